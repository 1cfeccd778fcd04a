-- The fresh-month stage starts from a fact without legs (it holds one provider's legs only, the
-- ones the stage loads again); the months' partitions stay, empty, as the project makes them ahead.
TRUNCATE cdr.fact_call_leg;

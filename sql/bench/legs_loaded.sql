-- Legs in the fact for a provider (records fetched can exceed them: billing items, overlapping windows).
SELECT count(*) FROM cdr.fact_call_leg WHERE provider = %(provider)s;

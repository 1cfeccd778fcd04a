-- The number dimension keeps only numbers some leg still holds: one whose legs all expired goes.
DELETE FROM cdr.number_enrichment n
WHERE NOT EXISTS (SELECT 1
                  FROM (SELECT caller_number AS number FROM cdr.fact_call_leg
                        UNION ALL SELECT called_number FROM cdr.fact_call_leg
                        UNION ALL SELECT service_number FROM cdr.fact_call_leg) AS held
                  WHERE held.number = n.number);

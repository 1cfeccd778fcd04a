-- Leg keys stored more than once for a provider (the key includes started_at for partitioning,
-- so a leg whose start time changed at the provider would show up here).
SELECT count(*) FROM (
    SELECT 1 FROM cdr.fact_call_leg
    WHERE provider = %(provider)s AND account = %(account)s
    GROUP BY provider, account, leg_key
    HAVING count(*) > 1
) AS duplicated;

-- Each account's calls cut-off, recorded before its expired legs go (cdr.retention_horizon): every
-- account with legs, calls or aggregates, and every configured one. A cut-off only moves forward:
-- a longer retention does not bring back what a shorter one deleted.
INSERT INTO cdr.retention_horizon (provider, account, calls_before)
SELECT a.provider, a.account, coalesce(p.calls_before, %(default_calls_before)s)
FROM (SELECT provider, account FROM cdr.fact_call_leg
      UNION SELECT provider, account FROM cdr.fact_call
      UNION SELECT provider, account FROM cdr.agg_call_leg_daily
      UNION SELECT provider, account FROM retention_policy) AS a
LEFT JOIN retention_policy p ON (p.provider, p.account) = (a.provider, a.account)
ON CONFLICT (provider, account) DO UPDATE
SET calls_before = greatest(cdr.retention_horizon.calls_before, excluded.calls_before);

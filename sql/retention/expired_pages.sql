-- The raw pages whose window ended before their account's raw-body cut-off.
SELECT r.id
FROM cdr.raw_response r
LEFT JOIN retention_policy p ON (p.provider, p.account) = (r.provider, r.account)
WHERE r.window_end <= coalesce(p.raw_before, %(default_raw_before)s)
ORDER BY r.id;

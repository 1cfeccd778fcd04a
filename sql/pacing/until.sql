-- Seconds until the account's next request slot (0 if it has come, or if there is no row).
SELECT greatest(coalesce(max(extract(epoch FROM next_at - clock_timestamp())::float8), 0), 0) AS wait_s
FROM cdr.request_pacing
WHERE provider = %(provider)s AND account = %(account)s

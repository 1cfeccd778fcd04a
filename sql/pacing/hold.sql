-- After the provider said "too many requests": no request of this account before now + seconds
-- (a later next_at stays).
INSERT INTO cdr.request_pacing AS pacing (provider, account, next_at)
VALUES (%(provider)s, %(account)s, clock_timestamp() + make_interval(secs => %(seconds)s))
ON CONFLICT (provider, account) DO UPDATE
    SET next_at = greatest(pacing.next_at, excluded.next_at)

-- Take the account's request slot if its time has come (next_at is now or past): next_at moves
-- to now + one interval and the statement returns a row. If the time has not come it returns
-- none and changes nothing; the caller asks how long to sleep (until.sql) and tries again.
-- One statement in autocommit: the row lock it takes (as SELECT ... FOR UPDATE would) lasts only
-- while it runs, so concurrent takers queue on it and each sees the next_at the last one left.
INSERT INTO cdr.request_pacing AS pacing (provider, account, next_at)
VALUES (%(provider)s, %(account)s, clock_timestamp() + make_interval(secs => %(interval_s)s))
ON CONFLICT (provider, account) DO UPDATE
    SET next_at = excluded.next_at
    WHERE pacing.next_at <= clock_timestamp()
RETURNING next_at

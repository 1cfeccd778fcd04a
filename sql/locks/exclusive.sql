-- A transaction-scoped advisory lock on a text key: released at commit or rollback, and by the
-- server if the process dies, so a killed run never leaves it held.
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0));

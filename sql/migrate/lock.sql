-- One migration runner at a time (session-scoped: the runner commits each migration on its own).
SELECT pg_advisory_lock(%(key)s);

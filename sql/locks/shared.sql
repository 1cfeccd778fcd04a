-- The shared form of locks/exclusive.sql: any number of holders, excluding the exclusive one.
SELECT pg_advisory_xact_lock_shared(hashtextextended(%(key)s, 0));

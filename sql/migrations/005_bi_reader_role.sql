-- A read-only role for BI users: NOLOGIN, so it is granted to login roles rather than used
-- directly (CREATE ROLE alice LOGIN IN ROLE cdr_bi_reader). It may read every table and view of
-- schema cdr, now and later, and write nothing.
--
-- Roles are cluster-wide: a second warehouse database in the same cluster (a test database,
-- a staging copy) runs this migration too, so the role is created only if it is missing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'cdr_bi_reader') THEN
        CREATE ROLE cdr_bi_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA cdr TO cdr_bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA cdr TO cdr_bi_reader;  -- tables and views alike

-- Tables and views that later migrations create (as the role running migrations) are readable
-- too. Partitions of cdr.fact_call_leg made by the loader need nothing: they are read through
-- their parent, whose privileges apply.
ALTER DEFAULT PRIVILEGES IN SCHEMA cdr GRANT SELECT ON TABLES TO cdr_bi_reader;

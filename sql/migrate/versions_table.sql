-- The migrations applied, with the checksum that catches one edited after it was applied.
CREATE TABLE IF NOT EXISTS public.cdr_schema_migrations (
    version     text        PRIMARY KEY,
    sha256      text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

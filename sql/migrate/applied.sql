SELECT version, sha256 FROM public.cdr_schema_migrations;

INSERT INTO public.cdr_schema_migrations (version, sha256) VALUES (%(version)s, %(sha256)s);

-- The relations of a schema for the data dictionary: tables, views and materialized views (not
-- indexes, sequences or partitions), with their comments and unique keys. Ordered by name in the
-- C collation, so the dictionary does not depend on the server's locale.
SELECT c.relname AS name,
       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
       obj_description(c.oid, 'pg_class') AS description,
       coalesce((SELECT array_agg(pg_get_constraintdef(k.oid) ORDER BY k.conname COLLATE "C")
                 FROM pg_catalog.pg_constraint k
                 WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u')), '{}') AS keys
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY c.relname COLLATE "C"

-- What BI tools would show without a description: the schema's relations, columns and functions
-- that have no comment, or an empty one.
SELECT object FROM (
SELECT format('%%I.%%I', n.nspname, c.relname) AS object
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND coalesce(btrim(obj_description(c.oid, 'pg_class')), '') = ''
UNION ALL
SELECT format('%%I.%%I.%%I', n.nspname, c.relname, a.attname)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND coalesce(btrim(col_description(c.oid, a.attnum)), '') = ''
UNION ALL
SELECT p.oid::regprocedure::text
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
) AS found
ORDER BY object COLLATE "C"

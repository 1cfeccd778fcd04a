-- A kept derived table's columns, for sql/privacy/erase_kept_rows.sql: the columns of its unique
-- constraint %(constraint)s (bar service_number, which the erasure rewrites) as its key, and every
-- other stored column (generated ones are computed) as a measure to sum.
SELECT a.attname, a.attnum = ANY (c.conkey) AS in_key
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid
WHERE c.conrelid = %(table)s::regclass AND c.conname = %(constraint)s
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attname <> 'service_number'
ORDER BY a.attnum;

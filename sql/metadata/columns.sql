-- A table's columns as the catalog has them, in order, with whether each is part of the primary
-- key: what Dagster shows as the asset's column schema (dagster/column_schema).
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       col_description(a.attrelid, a.attnum) AS description,
       coalesce(a.attnum = ANY (pk.indkey), false) AS in_primary_key
FROM pg_attribute a
LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- The fact's primary key columns, in key order: the key the peer's merge deduplicates on.
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = 'cdr.fact_call_leg'::regclass AND i.indisprimary
ORDER BY k.position;

-- One provider account's rows of a table per UTC day of [start, end), each row placed in its day
-- by a timestamptz column: the day partitions' row counts (dagster/row_count). The table and the
-- column are filled in as identifiers from the declaration of what the asset writes.
SELECT ({column} AT TIME ZONE 'UTC')::date AS day, count(*) AS row_count
FROM {table}
WHERE provider = %(provider)s AND account = %(account)s
  AND {column} >= %(start)s AND {column} < %(end)s
GROUP BY 1;

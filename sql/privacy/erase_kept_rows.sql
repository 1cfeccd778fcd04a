-- The rows of {table} that hold one of %(numbers)s as a service number, in the erasure's scope,
-- rewritten here rather than recomputed: retention keeps the aggregates and KPIs of days whose
-- legs are gone (docs/privacy.md), so no recomputation would reach them. Each row's number becomes
-- what cdr.erased_number makes of it (the marker), and rows that then share a key ({keys}) are
-- summed into one, as a recomputation from the erased legs groups them; a sum is NULL only where
-- every part is (the KPIs' billable seconds and cost). Days whose legs are still there are then
-- recomputed from them anyway (privacy.recompute_marked), to the same rows.
-- pipelines.warehouse.privacy fills in the table, its unique constraint and its columns (read
-- from the catalog by sql/privacy/kept_columns.sql).
WITH moved AS (
    DELETE FROM {table} k
    WHERE (%(provider)s::text IS NULL OR k.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR k.account = %(account)s) AND k.service_number = ANY (%(numbers)s)
    RETURNING k.*
)
INSERT INTO {table} AS t ({keys}, service_number, {measures})
SELECT {keys}, cdr.erased_number(service_number, provider, account), {sums}
FROM moved
GROUP BY {keys}, cdr.erased_number(service_number, provider, account)
ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET ({measures}) = ({additions});

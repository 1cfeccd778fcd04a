-- Each configured account's retention cut-offs (pipelines.warehouse.privacy.Retention), for this
-- transaction: rows of an account older than its cut-off are expired. Accounts not listed (no
-- longer configured) get the default cut-offs, which the statements using this table are given.
DROP TABLE IF EXISTS pg_temp.retention_policy;

CREATE TEMP TABLE retention_policy ON COMMIT DROP AS
SELECT *
FROM unnest(%(providers)s::text[], %(accounts)s::text[], %(calls_before)s::timestamptz[],
            %(raw_before)s::timestamptz[], %(quarantine_before)s::timestamptz[])
     AS p(provider, account, calls_before, raw_before, quarantine_before);

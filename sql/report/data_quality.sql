-- Data quality per UTC day and account (mart.data_quality_daily: by UTC day, as the fetch windows
-- are), flagged. An account is listed from its first fetched day in the period to the period's
-- end; a day without a fetch after that is listed too, as not fetched.
--
-- red:   not fetched; fetched but never loaded; a whole page quarantined; a reconciliation
--        mismatch (the provider's own count is not what was loaded and quarantined); or a
--        quarantined share of the fetched records above %(warn_share)s (CDR_QUARANTINE_WARN_SHARE,
--        the limit of the quarantine check).
-- amber: some records quarantined, within that share; or the day last fetched less than
--        %(settle_hours)s hours after it ended, so records the provider sends late may be missing
--        until the nightly run fetches it again.
-- green: otherwise.
WITH fetched AS (
    SELECT provider, account, day,
           sum(records_fetched)::bigint AS records_fetched, sum(legs)::bigint AS legs,
           sum(quarantined)::bigint AS quarantined, sum(quarantined_pages)::bigint AS quarantined_pages,
           sum(provider_count)::bigint AS provider_count, sum(mismatch)::bigint AS mismatch,
           max(last_fetched_at) AS last_fetched_at,
           -- a day of several windows is loaded once every window is
           CASE WHEN bool_and(last_loaded_at IS NOT NULL) THEN max(last_loaded_at) END AS last_loaded_at
    FROM mart.data_quality_daily
    WHERE day BETWEEN %(from)s AND %(to)s
      AND (%(provider)s::text IS NULL OR provider = %(provider)s)
      AND (%(account)s::text IS NULL OR account = %(account)s)
    GROUP BY provider, account, day
), listed AS (
    SELECT a.provider, a.account, d::date AS day
    FROM (SELECT provider, account, min(day) AS first_day FROM fetched GROUP BY provider, account) AS a
    CROSS JOIN generate_series(a.first_day, %(to)s::date, interval '1 day') AS d
), measured AS (
    SELECT l.provider, l.account, l.day, f.records_fetched, f.legs, f.quarantined, f.quarantined_pages,
           f.provider_count, f.mismatch, f.last_fetched_at, f.last_loaded_at,
           f.quarantined::numeric / nullif(f.records_fetched, 0) AS quarantined_share,
           extract(epoch FROM f.last_fetched_at - (l.day + 1)::timestamp AT TIME ZONE 'UTC') / 3600
               AS fetched_hours_after_day
    FROM listed l
    LEFT JOIN fetched f USING (provider, account, day)
),
-- the first reason that applies, the red ones first
flagged AS (
    SELECT m.*,
           CASE WHEN m.last_fetched_at IS NULL THEN 'not fetched'
                WHEN m.last_loaded_at IS NULL THEN 'fetched, never loaded'
                WHEN m.quarantined_pages > 0 THEN 'whole pages quarantined'
                WHEN m.mismatch <> 0 THEN 'provider count mismatch'
                WHEN m.quarantined_share > %(warn_share)s THEN 'quarantined share above the limit'
                WHEN m.quarantined > 0 THEN 'records quarantined'
                WHEN m.fetched_hours_after_day < %(settle_hours)s THEN 'fetched soon after the day ended'
           END AS reason
    FROM measured m
)
SELECT f.*, coalesce(a.account_name, f.account) AS account_name,
       CASE WHEN f.reason IN ('records quarantined', 'fetched soon after the day ended') THEN 'amber'
            WHEN f.reason IS NOT NULL THEN 'red'
            ELSE 'green' END AS flag
FROM flagged f
LEFT JOIN mart.dim_account a ON a.provider = f.provider AND a.account = f.account AND a.customer IS NULL
ORDER BY f.day, f.provider, f.account;

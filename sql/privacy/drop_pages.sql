-- Delete raw pages (%(ids)s) and, where one belongs to its window's current fetch, every page of
-- that fetch: a window whose fetch lost a page cannot be replayed, and keeping its other pages
-- would keep personal data for no use. Those windows are marked not replayable, with %(reason)s.
-- Their legs stay; cdr.window_fetch keeps what the fetch was (mart.data_quality_daily shows it).
WITH hit AS (
    SELECT id, provider, account, window_start, window_end FROM cdr.raw_response WHERE id = ANY (%(ids)s)
), current_fetch AS (
    SELECT DISTINCT w.provider, w.account, w.window_start, w.window_end, w.raw_response_ids
    FROM cdr.window_fetch w
    JOIN hit h ON (h.provider, h.account, h.window_start, h.window_end)
                = (w.provider, w.account, w.window_start, w.window_end)
              AND h.id = ANY (w.raw_response_ids)
), marked AS (
    INSERT INTO cdr.unreplayable_window AS u (provider, account, window_start, window_end, reason)
    SELECT provider, account, window_start, window_end, %(reason)s FROM current_fetch
    ON CONFLICT (provider, account, window_start, window_end) DO UPDATE
        SET reason = EXCLUDED.reason, marked_at = now()
    RETURNING 1
), gone AS (
    DELETE FROM cdr.raw_response r
    WHERE r.id = ANY (%(ids)s) OR r.id IN (SELECT unnest(raw_response_ids) FROM current_fetch)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS pages, (SELECT count(*) FROM marked) AS windows;

-- A leg two or more windows of the month hold: its first version stays to become the partition's
-- row; the later ones move to fresh_later, to be merged after, window by window, so that the
-- merge's guard judges each exactly as it would have (sql/load/merge_call_legs.sql). Returns how
-- many moved. Unless %(every_leg)s (the windows overlap), only the legs one of whose versions
-- started outside its window are looked at: of disjoint windows, a leg two hold lies outside one.
DROP TABLE IF EXISTS pg_temp.fresh_later;

CREATE TEMP TABLE fresh_later (LIKE fresh_call_leg) ON COMMIT DROP;

WITH repeated AS (
    SELECT provider, account, leg_key, started_at, min(w) AS first_window
    FROM fresh_call_leg
    WHERE %(every_leg)s OR (provider, account, leg_key, started_at) IN (
        SELECT provider, account, leg_key, started_at FROM fresh_call_leg WHERE outside)
    GROUP BY provider, account, leg_key, started_at
    HAVING count(*) > 1
), moved AS (
    DELETE FROM fresh_call_leg f
    USING repeated r
    WHERE f.provider = r.provider AND f.account = r.account AND f.leg_key = r.leg_key
      AND f.started_at = r.started_at AND f.w > r.first_window
    RETURNING f.*
)
INSERT INTO fresh_later SELECT * FROM moved;

SELECT count(*) FROM fresh_later;

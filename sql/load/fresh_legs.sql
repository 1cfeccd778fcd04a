-- A month's legs on their way into a partition of their own (pipelines.warehouse.load FreshMonth):
-- each window's legs once deduplicated within the window, tagged with the window's place in the
-- load (w), so that a leg two windows hold is known by its versions. The staging table's shape
-- (sql/load/stage_call_legs.sql, which runs first), seq a plain column here; `outside`: the leg
-- started outside its window (sql/load/fresh_later_versions.sql looks there). Dropped at commit.
DROP TABLE IF EXISTS pg_temp.fresh_call_leg;

CREATE TEMP TABLE fresh_call_leg (LIKE stage_call_leg, w integer NOT NULL, outside boolean NOT NULL) ON COMMIT DROP;

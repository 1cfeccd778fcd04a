-- The peer's target dropped, so dlt's next load is a first load: its dataset and the staging
-- dataset its merge uses (pipelines/bench_peers.py DATASET).
DROP SCHEMA IF EXISTS peer_dlt CASCADE;
DROP SCHEMA IF EXISTS peer_dlt_staging CASCADE;

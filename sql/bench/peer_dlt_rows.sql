-- Legs dlt's merge left in its table (pipelines/bench_peers.py DATASET, TABLE).
SELECT count(*) FROM peer_dlt.fact_call_leg;

-- Dagster's run, event and schedule storage, on the same server as the warehouse.
CREATE DATABASE dagster;

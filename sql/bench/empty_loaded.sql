-- The first load starts from empty facts, derived tables and bookkeeping.
TRUNCATE cdr.fact_call_leg, cdr.fact_call, cdr.agg_call_leg_hourly, cdr.agg_call_leg_daily,
         mart.kpi_daily, mart.kpi_hourly, mart.dim_account, cdr.number_enrichment,
         cdr.quarantine, cdr.load_audit, cdr.window_load, cdr.stale_day;

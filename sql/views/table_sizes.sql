-- Row counts of the warehouse tables, for the demo's summary.
SELECT 'cdr.raw_response', count(*) FROM cdr.raw_response
UNION ALL SELECT 'cdr.window_fetch', count(*) FROM cdr.window_fetch
UNION ALL SELECT 'cdr.fact_call_leg', count(*) FROM cdr.fact_call_leg
UNION ALL SELECT 'cdr.fact_call', count(*) FROM cdr.fact_call
UNION ALL SELECT 'cdr.agg_call_leg_hourly', count(*) FROM cdr.agg_call_leg_hourly
UNION ALL SELECT 'cdr.agg_call_leg_daily', count(*) FROM cdr.agg_call_leg_daily
UNION ALL SELECT 'cdr.fact_pbx_stats', count(*) FROM cdr.fact_pbx_stats
UNION ALL SELECT 'cdr.fact_billing_item', count(*) FROM cdr.fact_billing_item
UNION ALL SELECT 'cdr.quarantine', count(*) FROM cdr.quarantine
UNION ALL SELECT 'mart.kpi_daily', count(*) FROM mart.kpi_daily
UNION ALL SELECT 'mart.kpi_hourly', count(*) FROM mart.kpi_hourly
UNION ALL SELECT 'mart.dim_number', count(*) FROM mart.dim_number
UNION ALL SELECT 'mart.dim_account', count(*) FROM mart.dim_account;

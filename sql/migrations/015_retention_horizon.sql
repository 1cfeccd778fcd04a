-- How far back each provider account's legs and calls are kept: the calls cut-off of its latest
-- retention run (sql/retention/record_horizon.sql), never moved back. A full refresh of the
-- derived tables (sql/aggregates/mark_all_stale.sql) recomputes no day before it: those days'
-- aggregates and KPIs are kept by retention, and recomputing them from legs that are gone would
-- empty them.
CREATE TABLE cdr.retention_horizon (
    provider      text        NOT NULL,
    account       text        NOT NULL,
    calls_before  timestamptz NOT NULL,
    PRIMARY KEY (provider, account)
);
COMMENT ON TABLE cdr.retention_horizon IS
    'Per provider account: legs and calls that started before calls_before were deleted by retention.';

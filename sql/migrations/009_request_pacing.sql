-- Request pacing shared by every process that talks to one provider account (a nightly run and a
-- backfill, runs on several machines): the earliest moment its next request may go out, on the
-- database's clock. pipelines/warehouse/pacing.py reserves slots in sql/pacing/; the row lock its
-- one-statement reservation takes queues concurrent reservers, each seeing the time the last left.
CREATE TABLE cdr.request_pacing (
    provider  text        NOT NULL,
    account   text        NOT NULL,
    next_at   timestamptz NOT NULL,
    PRIMARY KEY (provider, account)
);

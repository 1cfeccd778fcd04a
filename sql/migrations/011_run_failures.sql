-- What the run-failure sensor saw: one row per failed step of a failed run (a run that failed
-- outside any step, e.g. its process was killed, has one row with step ''). provider and account
-- are '' where the step is not one account's (calls, call_leg_aggregates). Operations only; not
-- warehouse data. The error is as the webhook was sent it: scrubbed of secrets and phone numbers.
CREATE TABLE cdr.run_failure (
    run_id      text        NOT NULL,
    step        text        NOT NULL,
    job_name    text        NOT NULL,
    provider    text        NOT NULL,
    account     text        NOT NULL,
    first_day   date,
    last_day    date,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL,
    -- the webhook's answer ('HTTP 200', or the error's type); NULL: no webhook set
    notified    text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step)
);

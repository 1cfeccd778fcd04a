-- One failed step of a failed run; a second evaluation of the same run rewrites its row.
INSERT INTO cdr.run_failure (run_id, step, job_name, provider, account, first_day, last_day, error,
                             failed_at, notified)
VALUES (%(run_id)s, %(step)s, %(job_name)s, %(provider)s, %(account)s, %(first_day)s, %(last_day)s,
        %(error)s, %(failed_at)s, %(notified)s)
ON CONFLICT (run_id, step) DO UPDATE
SET job_name = EXCLUDED.job_name, provider = EXCLUDED.provider, account = EXCLUDED.account,
    first_day = EXCLUDED.first_day, last_day = EXCLUDED.last_day, error = EXCLUDED.error,
    failed_at = EXCLUDED.failed_at, notified = EXCLUDED.notified, recorded_at = now();

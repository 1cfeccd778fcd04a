-- Incremental work: derived tables are recomputed only for days whose legs changed, and a window
-- whose raw pages are byte-for-byte those of its last load is not parsed again.

-- Days whose calls or aggregates must be recomputed. The leg merge marks the day of every leg it
-- inserted or changed (and, for calls, the day before, where a call may have started) in the
-- same transaction; the derived assets clear the marks in the transaction that recomputes them,
-- so a crash between the two leaves the marks for the next run.
CREATE TABLE cdr.stale_day (
    target     text        NOT NULL CHECK (target IN ('calls', 'aggregates')),
    day        date        NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, day)
);

-- What the last successful load of each window read, and with which parser.
CREATE TABLE cdr.window_load (
    provider          text        NOT NULL,
    account           text        NOT NULL,
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    raw_response_ids  bigint[]    NOT NULL,
    parser_version    text        NOT NULL,
    legs              integer     NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account, window_start, window_end)
);

-- A load that skipped its window (nothing changed since the last load) is audited too.
ALTER TABLE cdr.load_audit ADD COLUMN skipped boolean NOT NULL DEFAULT false;

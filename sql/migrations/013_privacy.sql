-- Issue 18: personal data as EU law expects it (docs/privacy.md). Erasure of a subscriber number,
-- lasting across re-pulls; raw pages that are gone (erasure, retention) are recorded so that a
-- re-parse of their window fails clearly instead of loading nothing.
--
-- An erased number is recorded only as a salted SHA-256 (cdr.erasure). The salt is made by the first
-- erasure (sql/privacy/ensure_salt.sql, from gen_random_uuid(): pg_strong_random), once per
-- warehouse, and kept in the warehouse: the load path
-- must be able to test every staged number against the erasures in SQL, set-based, whatever
-- process runs it, and a salt kept outside would make an erasure silently stop lasting the day the
-- setting went missing. The salt defeats precomputed tables; against someone who can read schema
-- cdr (the owner only: the BI roles cannot) a phone number's small space stays brute-forceable,
-- which docs/privacy.md says.

CREATE TABLE cdr.privacy_salt (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    salt  bytea   NOT NULL
);

CREATE FUNCTION cdr.number_hash(number text) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT sha256((SELECT salt FROM cdr.privacy_salt) || convert_to(number, 'UTF8'))
$$;

-- One row per erasure request: the number's salted hash (never the number), its scope (NULL
-- provider/account: every account) and what it removed.
CREATE TABLE cdr.erasure (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number_hash   bytea       NOT NULL,
    provider      text,
    account       text,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    receipt       jsonb       NOT NULL DEFAULT '{}'::jsonb,   -- table -> rows or pages touched
    CONSTRAINT erasure_uq UNIQUE NULLS NOT DISTINCT (number_hash, provider, account)
);
CREATE INDEX erasure_hash_idx ON cdr.erasure (number_hash);

-- What an erased number is replaced with, everywhere: one constant, so that erased calls cannot be
-- linked to one another.
CREATE FUNCTION cdr.erased_marker() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'erased'::text $$;

CREATE FUNCTION cdr.is_erased(number text, provider text, account text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT number IS NOT NULL AND number <> cdr.erased_marker()
       AND EXISTS (SELECT 1 FROM cdr.erasure e
                   WHERE e.number_hash = cdr.number_hash(number)
                     AND (e.provider IS NULL OR e.provider = $2)
                     AND (e.account IS NULL OR e.account = $3))
$$;

-- A number as stored once erasures apply: the marker if it is erased for the account, else itself.
CREATE FUNCTION cdr.erased_number(number text, provider text, account text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN cdr.is_erased(number, provider, account) THEN cdr.erased_marker() ELSE number END
$$;

-- A leg's provider attributes once erasures apply: every top-level string value that is an erased
-- number becomes the marker, and where the row holds an erased number (there, or in `numbers`: its
-- number columns), the caller's name goes too (TENIOS callerid_name names the person behind it).
-- Unchanged otherwise.
CREATE FUNCTION cdr.erased_attributes(attributes jsonb, provider text, account text, numbers text[])
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM jsonb_each_text(attributes) e
                         WHERE e.value LIKE '+%' AND cdr.is_erased(e.value, provider, account))
         AND NOT EXISTS (SELECT 1 FROM unnest(numbers) AS n WHERE cdr.is_erased(n, provider, account))
        THEN attributes
        ELSE (SELECT coalesce(jsonb_object_agg(e.key,
                                  CASE WHEN jsonb_typeof(e.value) = 'string'
                                            AND cdr.is_erased(e.value #>> '{}', provider, account)
                                       THEN to_jsonb(cdr.erased_marker()) ELSE e.value END), '{}'::jsonb)
              FROM jsonb_each(attributes) e
              WHERE e.key <> 'callerid_name')
    END
$$;

-- Windows whose raw pages were deleted (by an erasure, or because their retention ran out): their
-- legs stay, but a re-parse cannot be done; the load says so (WindowNotReplayableError). A re-pull
-- that lands the window again makes it replayable: its current fetch then lists pages that exist.
CREATE TABLE cdr.unreplayable_window (
    provider      text        NOT NULL,
    account       text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    reason        text        NOT NULL CHECK (reason IN ('erasure', 'retention')),
    marked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account, window_start, window_end)
);

-- Per-transaction staging for the pseudonyms of one window's subscriber numbers (an account with
-- `pseudonymise` set): each clear number, its keyed pseudonym, and, for a pseudonym the number
-- dimension does not have yet, the country and type the clear number had.
DROP TABLE IF EXISTS pg_temp.stage_pseudonym;

CREATE TEMP TABLE stage_pseudonym (
    number        text PRIMARY KEY,
    pseudonym     text NOT NULL,
    country_iso   text,
    country_name  text,
    number_type   text,
    country_code  smallint
) ON COMMIT DROP;

-- One audit row per window load (or skip): what it parsed, what it changed, what it assumed.
INSERT INTO cdr.load_audit (provider, account, window_start, window_end, legs_parsed, inserted, updated,
                            unchanged, quarantined, duplicates_in_window, skipped, notes)
VALUES (%(provider)s, %(account)s, %(start)s, %(end)s, %(legs_parsed)s, %(inserted)s, %(updated)s,
        %(unchanged)s, %(quarantined)s, %(duplicates_in_window)s, %(skipped)s, %(notes)s::jsonb);

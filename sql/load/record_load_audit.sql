-- One audit row per window load (or skip): what it parsed and what it changed.
INSERT INTO cdr.load_audit (provider, account, window_start, window_end, legs_parsed, inserted, updated,
                            unchanged, quarantined, duplicates_in_window, skipped)
VALUES (%(provider)s, %(account)s, %(start)s, %(end)s, %(legs_parsed)s, %(inserted)s, %(updated)s,
        %(unchanged)s, %(quarantined)s, %(duplicates_in_window)s, %(skipped)s);

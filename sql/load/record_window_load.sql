-- What this window's load read, so an identical re-run can skip it (see load_windows).
INSERT INTO cdr.window_load AS w (provider, account, window_start, window_end, raw_response_ids, parser_version, legs)
VALUES (%(provider)s, %(account)s, %(start)s, %(end)s, %(ids)s, %(version)s, %(legs)s)
ON CONFLICT (provider, account, window_start, window_end) DO UPDATE SET
    raw_response_ids = EXCLUDED.raw_response_ids, parser_version = EXCLUDED.parser_version,
    legs = EXCLUDED.legs, loaded_at = now();

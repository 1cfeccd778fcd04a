-- The pages of a window's latest complete fetch, replacing the previous fetch's.
INSERT INTO cdr.window_fetch AS w (provider, account, window_start, window_end, raw_response_ids, pages,
                                   records, provider_count)
VALUES (%(provider)s, %(account)s, %(start)s, %(end)s, %(ids)s, %(pages)s, %(records)s, %(provider_count)s)
ON CONFLICT (provider, account, window_start, window_end) DO UPDATE SET
    raw_response_ids = EXCLUDED.raw_response_ids, pages = EXCLUDED.pages, records = EXCLUDED.records,
    provider_count = EXCLUDED.provider_count, fetched_at = now();

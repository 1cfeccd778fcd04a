-- The raw pages of the latest complete fetch of a window, in page order (no row: never fetched).
SELECT raw_response_ids
FROM cdr.window_fetch
WHERE provider = %(provider)s AND account = %(account)s AND window_start = %(start)s AND window_end = %(end)s;

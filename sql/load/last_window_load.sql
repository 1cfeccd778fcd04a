-- What the last load of a window read (raw pages, parser version) and how many rows of the
-- provider's primary kind it found; no row if the window was never loaded.
SELECT raw_response_ids, parser_version, legs
FROM cdr.window_load
WHERE provider = %(provider)s AND account = %(account)s
  AND window_start = %(start)s AND window_end = %(end)s;

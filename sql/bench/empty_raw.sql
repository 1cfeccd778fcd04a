-- Both fetch stages land the same pages: each starts from an empty landing table.
TRUNCATE cdr.raw_response, cdr.window_fetch;

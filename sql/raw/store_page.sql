-- Land one response body. A byte-identical re-fetch of the same page of the same window hits the
-- unique constraint and inserts nothing: the existing row's id is then read by find_page.sql.
INSERT INTO cdr.raw_response (provider, account, endpoint, request_params, window_start, window_end, page,
                              http_status, content_type, body_sha256, body_bytes, body_gzip)
VALUES (%(provider)s, %(account)s, %(endpoint)s, %(request_params)s, %(start)s, %(end)s, %(page)s,
        %(http_status)s, %(content_type)s, %(sha256)s, %(bytes)s, %(gzip)s)
ON CONFLICT ON CONSTRAINT raw_response_page_uq DO NOTHING
RETURNING id;

-- The id of a body already landed byte for byte (see store_page.sql).
SELECT id
FROM cdr.raw_response
WHERE provider = %(provider)s AND account = %(account)s AND endpoint = %(endpoint)s
  AND window_start = %(start)s AND window_end = %(end)s AND page = %(page)s AND body_sha256 = %(sha256)s;

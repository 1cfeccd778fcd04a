-- One stored body, compressed, with what the parser may need of its request.
SELECT page, content_type, body_gzip, request_params
FROM cdr.raw_response
WHERE id = %(id)s;

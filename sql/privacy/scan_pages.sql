-- Every raw page in an erasure's scope (NULL provider/account: all), for the bodies to be searched.
SELECT id, body_gzip
FROM cdr.raw_response
WHERE (%(provider)s::text IS NULL OR provider = %(provider)s)
  AND (%(account)s::text IS NULL OR account = %(account)s)
ORDER BY id;

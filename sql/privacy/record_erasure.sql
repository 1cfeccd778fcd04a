-- The erasure request, under the salted hash of each of its numbers (the number and, in accounts
-- that store pseudonyms, its pseudonym there): from now on the load path applies it too. A request
-- repeated for the same scope keeps its row (its receipt is then the newest one).
INSERT INTO cdr.erasure (number_hash, provider, account)
SELECT cdr.number_hash(n), %(provider)s, %(account)s
FROM unnest(%(numbers)s::text[]) AS n
ON CONFLICT ON CONSTRAINT erasure_uq DO UPDATE SET requested_at = now();

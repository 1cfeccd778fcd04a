-- What the erasure touched, on its audit rows (counts only: nothing that names the subscriber).
UPDATE cdr.erasure SET receipt = %(receipt)s::jsonb
WHERE number_hash IN (SELECT cdr.number_hash(n) FROM unnest(%(numbers)s::text[]) AS n)
  AND provider IS NOT DISTINCT FROM %(provider)s AND account IS NOT DISTINCT FROM %(account)s;

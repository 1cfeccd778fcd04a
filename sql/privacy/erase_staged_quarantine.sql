-- The load path's side of an erasure for quarantined records (the provider's text): a record
-- holding an erased number in international form (+49…, 0049…, 49…) is not kept. Each digit run
-- of the record is tried as a number. Returns the raw pages those records came from.
WITH erased AS (
    DELETE FROM stage_quarantine q
    WHERE EXISTS (SELECT 1 FROM cdr.erasure)
      AND q.record IS NOT NULL
      AND EXISTS (
          SELECT 1
          FROM regexp_matches(q.record, '(\+|00)?([0-9][0-9 ./()-]{5,20}[0-9])', 'g') AS m
          CROSS JOIN LATERAL (SELECT regexp_replace(m[2], '[^0-9]', '', 'g') AS digits) AS d
          WHERE cdr.is_erased('+' || d.digits, q.provider, q.account)
             OR (m[1] IS NULL AND d.digits LIKE '00%%'
                 AND cdr.is_erased('+' || substr(d.digits, 3), q.provider, q.account)))
    RETURNING q.raw_response_id
)
SELECT coalesce(array_agg(DISTINCT raw_response_id), '{}') FROM erased;

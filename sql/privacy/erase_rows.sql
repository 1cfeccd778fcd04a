-- Apply the recorded erasures (record_erasure.sql ran first in this transaction) to the stored
-- rows that hold one of %(numbers)s, in the erasure's scope, with the same functions the load path
-- applies to staged rows (cdr.erased_number, cdr.erased_attributes), so that a re-pull of the
-- same records finds them identical and rewrites nothing.
-- Legs: their days are marked for the calls, aggregates and mart to be recomputed (as the leg
-- merge marks them); the calls, aggregates and KPIs are then recomputed from the erased legs.
WITH erased AS (
    UPDATE cdr.fact_call_leg l SET
        caller_number = cdr.erased_number(l.caller_number, l.provider, l.account),
        called_number = cdr.erased_number(l.called_number, l.provider, l.account),
        service_number = cdr.erased_number(l.service_number, l.provider, l.account),
        attributes = cdr.erased_attributes(l.attributes, l.provider, l.account,
            ARRAY[l.caller_number, l.called_number, l.service_number]),
        last_changed_at = now()
    WHERE (%(provider)s::text IS NULL OR l.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR l.account = %(account)s)
      AND (l.caller_number = ANY (%(numbers)s) OR l.called_number = ANY (%(numbers)s)
           OR l.service_number = ANY (%(numbers)s)
           OR EXISTS (SELECT 1 FROM jsonb_each_text(l.attributes) e WHERE e.value = ANY (%(numbers)s)))
    RETURNING l.provider, l.account, (l.started_at AT TIME ZONE 'UTC')::date AS day
)
INSERT INTO cdr.stale_day (target, provider, account, day)
SELECT t.target, d.provider, d.account, d.day + t.days_before
FROM (SELECT DISTINCT provider, account, day FROM erased) AS d
CROSS JOIN cdr.stale_targets() AS t
ON CONFLICT DO NOTHING;

UPDATE cdr.fact_billing_item b SET
    username = cdr.erased_number(b.username, b.provider, b.account),
    product = cdr.erased_number(b.product, b.provider, b.account),
    attributes = cdr.erased_attributes(b.attributes, b.provider, b.account, ARRAY[b.username, b.product]),
    last_changed_at = now()
WHERE (%(provider)s::text IS NULL OR b.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR b.account = %(account)s)
  AND (b.username = ANY (%(numbers)s) OR b.product = ANY (%(numbers)s)
       OR EXISTS (SELECT 1 FROM jsonb_each_text(b.attributes) e WHERE e.value = ANY (%(numbers)s)));

-- A quarantined record is the provider's text, unreadable: it goes whole.
DELETE FROM cdr.quarantine q
WHERE (%(provider)s::text IS NULL OR q.provider = %(provider)s)
  AND (%(account)s::text IS NULL OR q.account = %(account)s)
  AND q.record ~ %(pattern)s;

-- The number dimension keeps a number while any leg still holds it (an erasure scoped to one
-- account leaves the others' legs).
DELETE FROM cdr.number_enrichment n
WHERE (n.number = ANY (%(numbers)s) OR n.e164 = ANY (%(numbers)s))
  AND NOT EXISTS (SELECT 1 FROM cdr.fact_call_leg l
                  WHERE l.caller_number = n.number OR l.called_number = n.number
                     OR l.service_number = n.number);

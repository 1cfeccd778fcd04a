-- One set-based upsert of the staged billing items into the fact; returns, as every merge of the
-- shared load path does, (staged, distinct, inserted, updated).
-- Within the batch the last staged version of an item wins (overlapping fetches repeat items).
-- The WHERE guard makes an identical re-load rewrite nothing; an item whose invoice went from
-- "N/A" to a number (or whose price was corrected) is updated in place.
WITH latest AS (
    SELECT DISTINCT ON (provider, account, item_key) *
    FROM stage_billing_item
    ORDER BY provider, account, item_key, seq DESC
), upserted AS (
    INSERT INTO cdr.fact_billing_item AS f (
        provider, account, customer, item_key, profile_id, item_type, known_type, billed_at, billed_until,
        username, product, description, quantity, price, cost_eur, invoice, duration_s, extension,
        attributes, raw_response_id)
    SELECT
        provider, account, customer, item_key, profile_id, item_type, known_type, billed_at, billed_until,
        username, product, description, quantity, price, cost_eur, invoice, duration_s, extension,
        attributes, raw_response_id
    FROM latest
    ON CONFLICT (provider, account, item_key) DO UPDATE SET
        customer = EXCLUDED.customer,
        profile_id = EXCLUDED.profile_id,
        item_type = EXCLUDED.item_type,
        known_type = EXCLUDED.known_type,
        billed_at = EXCLUDED.billed_at,
        billed_until = EXCLUDED.billed_until,
        username = EXCLUDED.username,
        product = EXCLUDED.product,
        description = EXCLUDED.description,
        quantity = EXCLUDED.quantity,
        price = EXCLUDED.price,
        cost_eur = EXCLUDED.cost_eur,
        invoice = EXCLUDED.invoice,
        duration_s = EXCLUDED.duration_s,
        extension = EXCLUDED.extension,
        attributes = EXCLUDED.attributes,
        raw_response_id = EXCLUDED.raw_response_id,
        last_changed_at = now()
    WHERE (f.customer, f.profile_id, f.item_type, f.known_type, f.billed_at, f.billed_until, f.username, f.product,
           f.description, f.quantity, f.price, f.cost_eur, f.invoice, f.duration_s, f.extension, f.attributes)
          IS DISTINCT FROM
          (EXCLUDED.customer, EXCLUDED.profile_id, EXCLUDED.item_type, EXCLUDED.known_type, EXCLUDED.billed_at,
           EXCLUDED.billed_until, EXCLUDED.username, EXCLUDED.product, EXCLUDED.description,
           EXCLUDED.quantity, EXCLUDED.price, EXCLUDED.cost_eur, EXCLUDED.invoice, EXCLUDED.duration_s,
           EXCLUDED.extension, EXCLUDED.attributes)
    RETURNING (f.xmax = 0) AS inserted
)
SELECT
    (SELECT count(*) FROM stage_billing_item) AS staged,
    (SELECT count(*) FROM latest) AS distinct_items,
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted;

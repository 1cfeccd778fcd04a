-- Billing items: provider records that are not calls (MIXvoip getcalls mixes PAY, SETUP, SERVICE,
-- SMS, FAX, HARDWARE, DEV, TRAVEL, … in with CALLIN/CALLOUT). One row per item; no provider id
-- exists, so item_key is a content hash plus an occurrence ordinal (like MIXvoip leg keys).
CREATE TABLE cdr.fact_billing_item (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    item_key         text        NOT NULL,
    profile_id       text,                   -- MIXvoip PROFILE_ID (customer number) it was fetched for
    item_type        text        NOT NULL,   -- the provider's type, kept as data (open set)
    known_type       boolean     NOT NULL,   -- false: a type the docs do not list
    billed_at        timestamptz NOT NULL,   -- "the date of billing" (call_start)
    billed_until     timestamptz,            -- call_end, when the provider sends it
    username         text,                   -- source
    product          text,                   -- destination
    description      text,                   -- destination_name
    quantity         numeric,
    price            numeric,                -- exactly as sent; meaning ambiguous [Q], see docs
    cost_eur         numeric(14, 6),         -- derived from price and quantity (MIXVOIP_PRICE_MEANING)
    invoice          text,                   -- invoice/report number; "N/A" until invoiced
    invoiced         boolean GENERATED ALWAYS AS
                         (invoice IS NOT NULL AND upper(btrim(invoice)) NOT IN ('', 'N/A', 'NA')) STORED,
    duration_s       integer,
    extension        text,
    attributes       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    raw_response_id  bigint,                 -- the page this version of the item came from
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account, item_key)
);

CREATE INDEX fact_billing_item_billed_idx ON cdr.fact_billing_item (provider, account, billed_at);
CREATE INDEX fact_billing_item_open_idx ON cdr.fact_billing_item (provider, account) WHERE NOT invoiced;

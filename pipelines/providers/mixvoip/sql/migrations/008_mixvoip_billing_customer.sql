-- Billing items carry the customer like the legs do (sql/migrations/008_customers.sql): for
-- MIXvoip the profile id the item was fetched for, which profile_id already holds.
ALTER TABLE cdr.fact_billing_item ADD COLUMN customer text;

UPDATE cdr.fact_billing_item SET customer = profile_id WHERE profile_id IS NOT NULL;

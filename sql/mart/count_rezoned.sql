-- The accounts sync_accounts.sql found in a new reporting zone: how many.
SELECT count(*) FROM rezoned_account

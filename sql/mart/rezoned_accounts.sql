-- The accounts sync_accounts.sql found in a new reporting zone that have calls, and their span.
SELECT provider, account, first_call, last_call FROM rezoned_account WHERE first_call IS NOT NULL
ORDER BY provider, account

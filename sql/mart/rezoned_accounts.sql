-- The accounts rezone_accounts.sql marked that have calls, and the span of their calls.
SELECT provider, account, first_call, last_call FROM rezoned_span WHERE first_call IS NOT NULL
ORDER BY provider, account

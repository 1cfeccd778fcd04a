-- When the account's day was last loaded (or found unchanged and skipped): NULL if never.
SELECT max(loaded_at) FROM cdr.load_audit
WHERE provider = %(provider)s AND account = %(account)s AND window_start = %(day_start)s;

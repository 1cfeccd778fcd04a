-- The warehouse's salt for the erasure hashes, made by the first erasure (256 random bits from
-- two gen_random_uuid(), which use pg_strong_random). Never replaced while an erasure is recorded
-- under it: that erasure's hash would no longer match at load time.
INSERT INTO cdr.privacy_salt (salt)
SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8'))
WHERE NOT EXISTS (SELECT 1 FROM cdr.erasure)
ON CONFLICT (one) DO NOTHING;

SELECT count(*) FROM cdr.privacy_salt;

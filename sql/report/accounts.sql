-- The accounts the mart knows (their own rows of mart.dim_account), for checking a filter.
SELECT provider, account FROM mart.dim_account WHERE customer IS NULL ORDER BY provider, account;

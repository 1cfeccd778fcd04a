-- Issue 16: masking follows the login, not only the role in effect. mart.numbers_hidden() of
-- migration 012 asked about current_user alone, so a login holding both BI roles could
-- `SET ROLE cdr_bi_reader` and read subscriber numbers unmasked. Now a session whose login
-- (session_user) is a member of cdr_bi_masked sees numbers masked whatever role it sets; a
-- superuser session that sets a masked role (`SET ROLE alice`) sees what alice sees.
CREATE OR REPLACE FUNCTION mart.numbers_hidden() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(bool_or(pg_has_role(viewer.who, 'cdr_bi_masked', 'MEMBER')
                            AND NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
                                              WHERE r.rolname = viewer.who), false)), false)
    FROM (VALUES (current_user::name), (session_user::name)) AS viewer (who)
$$;
COMMENT ON FUNCTION mart.numbers_hidden() IS
    'True when the role in effect or the login is a member of cdr_bi_masked (superusers excepted): the mart '
    'views then mask subscriber numbers. The login counts too, so SET ROLE cannot unmask.';

-- format_type and the function signatures qualify a name only where the search_path does not
-- find it: the dictionary reads the catalog with pg_catalog alone, so every mart name is qualified
-- whatever the session's path.
SELECT set_config('search_path', %(search_path)s, false)

-- The session's search_path, to restore after the dictionary is read.
SELECT current_setting('search_path')

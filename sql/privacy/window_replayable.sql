-- Of a window's current fetch (%(ids)s), how many pages are gone, and why (NULL: not recorded).
SELECT (SELECT count(*) FROM unnest(%(ids)s::bigint[]) AS i(id)
        WHERE NOT EXISTS (SELECT 1 FROM cdr.raw_response r WHERE r.id = i.id)) AS missing,
       (SELECT reason || ' on ' || to_char(marked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
        FROM cdr.unreplayable_window
        WHERE provider = %(provider)s AND account = %(account)s
          AND window_start = %(start)s AND window_end = %(end)s) AS reason;

-- The numbers of the window (window_numbers.sql) that the number dimension does not have yet: the
-- enrichment runs once per number, so a second run only sees the numbers that arrived since.
SELECT w.number
FROM window_number w
WHERE NOT EXISTS (SELECT 1 FROM cdr.number_enrichment d WHERE d.number = w.number)
ORDER BY w.number

-- The distinct subscriber numbers (E.164) of the staged legs: caller and called numbers and the
-- numbers among the provider attributes (Belfabriek's `number`). Service numbers are the
-- company's own and stay as they are.
SELECT DISTINCT n.number
FROM stage_call_leg s
CROSS JOIN LATERAL (
    SELECT s.caller_number UNION ALL SELECT s.called_number
    UNION ALL SELECT e.value FROM jsonb_each_text(s.attributes::jsonb) e
) AS n(number)
WHERE n.number LIKE '+%%';

-- Replace the staged legs' subscriber numbers by their pseudonyms (stage_pseudonym), in the number
-- columns and among the provider attributes; a caller's name (TENIOS callerid_name) is not kept.
-- A new pseudonym enters the number dimension with the country and type of its clear number, so
-- KPIs by country and type work as for clear numbers. The same number and key always give the same
-- pseudonym: a re-run merges as "unchanged".
UPDATE stage_call_leg s SET
    caller_number = coalesce((SELECT p.pseudonym FROM stage_pseudonym p WHERE p.number = s.caller_number),
                             s.caller_number),
    called_number = coalesce((SELECT p.pseudonym FROM stage_pseudonym p WHERE p.number = s.called_number),
                             s.called_number),
    attributes = (SELECT coalesce(jsonb_object_agg(e.key, coalesce(to_jsonb(p.pseudonym), e.value)), '{}'::jsonb)
                  FROM jsonb_each(s.attributes::jsonb) e
                  LEFT JOIN stage_pseudonym p
                         ON jsonb_typeof(e.value) = 'string' AND p.number = e.value #>> '{}'
                  WHERE e.key <> 'callerid_name')::text;

INSERT INTO cdr.number_enrichment (number, country_iso, country_name, number_type, country_code)
SELECT pseudonym, country_iso, country_name, number_type, country_code
FROM stage_pseudonym
WHERE number_type IS NOT NULL
ON CONFLICT (number) DO NOTHING;

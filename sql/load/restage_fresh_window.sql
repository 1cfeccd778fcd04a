-- One window's fresh legs (already deduplicated, erasures and pseudonyms applied) staged again, in
-- their staged order, for the merge: how a fresh month that cannot become a partition of its own
-- is loaded after all, or the later versions of legs another window holds too (fresh_later).
-- {columns}: the staging table's COPY columns, {source} the table; composed by the loader.
INSERT INTO stage_call_leg ({columns})
SELECT {columns} FROM {source} WHERE w = %(window)s ORDER BY seq;

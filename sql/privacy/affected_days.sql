-- The span of the stale marks an erasure or a retention run left, per target: what to recompute.
SELECT min(day), max(day) + 1 FROM cdr.stale_day WHERE target IN ('calls', 'aggregates');

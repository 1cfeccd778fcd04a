-- The aggregates and KPIs that hold one of %(numbers)s as a service number, in the erasure's
-- scope, rewritten here rather than recomputed: retention keeps them for days whose legs are gone
-- (docs/privacy.md), so no recomputation would reach them. Each row's number becomes what
-- cdr.erased_number makes of it (the marker), and rows that now share a key are summed into one,
-- as a recomputation from the erased legs groups them. Days whose legs are still there are then
-- recomputed from those legs anyway (privacy.recompute_marked), to the same rows.
WITH moved AS (
    DELETE FROM cdr.agg_call_leg_daily a
    WHERE (%(provider)s::text IS NULL OR a.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR a.account = %(account)s) AND a.service_number = ANY (%(numbers)s)
    RETURNING a.*
)
INSERT INTO cdr.agg_call_leg_daily AS t (provider, account, day, customer, service_number, direction, outcome,
                                         legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT provider, account, day, customer, cdr.erased_number(service_number, provider, account), direction,
       outcome, sum(legs), sum(calls), sum(answered), sum(duration_s), sum(billable_s), sum(cost_eur)
FROM moved GROUP BY provider, account, day, customer, 5, direction, outcome
ON CONFLICT ON CONSTRAINT agg_call_leg_daily_uq DO UPDATE SET
    legs = t.legs + excluded.legs, calls = t.calls + excluded.calls, answered = t.answered + excluded.answered,
    duration_s = t.duration_s + excluded.duration_s, billable_s = t.billable_s + excluded.billable_s,
    cost_eur = t.cost_eur + excluded.cost_eur;

WITH moved AS (
    DELETE FROM cdr.agg_call_leg_hourly a
    WHERE (%(provider)s::text IS NULL OR a.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR a.account = %(account)s) AND a.service_number = ANY (%(numbers)s)
    RETURNING a.*
)
INSERT INTO cdr.agg_call_leg_hourly AS t (provider, account, hour, customer, service_number, direction, outcome,
                                          legs, calls, answered, duration_s, billable_s, cost_eur)
SELECT provider, account, hour, customer, cdr.erased_number(service_number, provider, account), direction,
       outcome, sum(legs), sum(calls), sum(answered), sum(duration_s), sum(billable_s), sum(cost_eur)
FROM moved GROUP BY provider, account, hour, customer, 5, direction, outcome
ON CONFLICT ON CONSTRAINT agg_call_leg_hourly_uq DO UPDATE SET
    legs = t.legs + excluded.legs, calls = t.calls + excluded.calls, answered = t.answered + excluded.answered,
    duration_s = t.duration_s + excluded.duration_s, billable_s = t.billable_s + excluded.billable_s,
    cost_eur = t.cost_eur + excluded.cost_eur;

-- The KPIs' billable seconds and cost are NULL where no call had them: a sum of two stays NULL
-- only where both are.
WITH moved AS (
    DELETE FROM mart.kpi_daily k
    WHERE (%(provider)s::text IS NULL OR k.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR k.account = %(account)s) AND k.service_number = ANY (%(numbers)s)
    RETURNING k.*
)
INSERT INTO mart.kpi_daily AS t (provider, account, local_date, customer, service_number, direction, calls,
                                 answered, missed, unknown_outcome, talk_s, duration_s, billable_s, cost_eur)
SELECT provider, account, local_date, customer, cdr.erased_number(service_number, provider, account),
       direction, sum(calls), sum(answered), sum(missed), sum(unknown_outcome), sum(talk_s), sum(duration_s),
       sum(billable_s), sum(cost_eur)
FROM moved GROUP BY provider, account, local_date, customer, 5, direction
ON CONFLICT ON CONSTRAINT kpi_daily_uq DO UPDATE SET
    calls = t.calls + excluded.calls, answered = t.answered + excluded.answered,
    missed = t.missed + excluded.missed, unknown_outcome = t.unknown_outcome + excluded.unknown_outcome,
    talk_s = t.talk_s + excluded.talk_s, duration_s = t.duration_s + excluded.duration_s,
    billable_s = CASE WHEN num_nonnulls(t.billable_s, excluded.billable_s) > 0
                      THEN coalesce(t.billable_s, 0) + coalesce(excluded.billable_s, 0) END,
    cost_eur = CASE WHEN num_nonnulls(t.cost_eur, excluded.cost_eur) > 0
                    THEN coalesce(t.cost_eur, 0) + coalesce(excluded.cost_eur, 0) END;

WITH moved AS (
    DELETE FROM mart.kpi_hourly k
    WHERE (%(provider)s::text IS NULL OR k.provider = %(provider)s)
      AND (%(account)s::text IS NULL OR k.account = %(account)s) AND k.service_number = ANY (%(numbers)s)
    RETURNING k.*
)
INSERT INTO mart.kpi_hourly AS t (provider, account, local_date, local_hour, customer, service_number, direction,
                                  calls, answered, missed, unknown_outcome, talk_s, duration_s, billable_s,
                                  cost_eur)
SELECT provider, account, local_date, local_hour, customer, cdr.erased_number(service_number, provider, account),
       direction, sum(calls), sum(answered), sum(missed), sum(unknown_outcome), sum(talk_s), sum(duration_s),
       sum(billable_s), sum(cost_eur)
FROM moved GROUP BY provider, account, local_date, local_hour, customer, 6, direction
ON CONFLICT ON CONSTRAINT kpi_hourly_uq DO UPDATE SET
    calls = t.calls + excluded.calls, answered = t.answered + excluded.answered,
    missed = t.missed + excluded.missed, unknown_outcome = t.unknown_outcome + excluded.unknown_outcome,
    talk_s = t.talk_s + excluded.talk_s, duration_s = t.duration_s + excluded.duration_s,
    billable_s = CASE WHEN num_nonnulls(t.billable_s, excluded.billable_s) > 0
                      THEN coalesce(t.billable_s, 0) + coalesce(excluded.billable_s, 0) END,
    cost_eur = CASE WHEN num_nonnulls(t.cost_eur, excluded.cost_eur) > 0
                    THEN coalesce(t.cost_eur, 0) + coalesce(excluded.cost_eur, 0) END;

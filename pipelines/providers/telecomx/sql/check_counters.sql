-- Telecom X interval rows of one account whose counters contradict each other, among the rows
-- of intervals that overlap the checked UTC days [first, last) (a WEEK or MONTH row may start up
-- to a month before them). The docs make each part count a part of its direction's calls:
-- answered, unanswered and failed outbound calls are outbound calls; answered, unanswered and
-- busy inbound calls are inbound calls. Nothing more: the doc's own example has inboundAnswered 0
-- while inboundCalls exceed inboundUnanswered + inboundBusy, so the parts are not assumed to add
-- up (NOTES.md section 4). A counter the interval did not carry (NULL) is not compared.
SELECT count(*) AS violations,
       coalesce((array_agg(concat_ws(' ', grain, interval_start, 'employee', employee_id)
                           ORDER BY interval_start, employee_id))[1:5], '{}') AS examples
FROM cdr.fact_pbx_stats
WHERE provider = %(provider)s AND account = %(account)s
  AND interval_start >= (%(first)s::date::timestamp AT TIME ZONE 'UTC') - interval '1 month'
  AND interval_start < %(last)s::date::timestamp AT TIME ZONE 'UTC'
  AND interval_start + CASE grain WHEN 'HOUR' THEN interval '1 hour' WHEN 'DAY' THEN interval '1 day'
                                  WHEN 'WEEK' THEN interval '7 days' ELSE interval '1 month' END
      > %(first)s::date::timestamp AT TIME ZONE 'UTC'
  AND (outbound_answered > outbound_calls OR outbound_unanswered > outbound_calls
       OR outbound_failed > outbound_calls
       OR inbound_answered > inbound_calls OR inbound_unanswered > inbound_calls
       OR inbound_busy > inbound_calls);

"""The mutants `make mutate` runs (tools/mutate.py): one mechanism removed each, and the tests
that claim it. `find` must occur exactly once in `path`; it is replaced by `replace`.

A mutant is semantic: the code still imports and runs, it just no longer does the one thing a
claim in README or docs/ rests on. Add one whenever a doc claims a new mechanism.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    area: str
    removes: str  # the mechanism, in words
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]


E2E_TENIOS = "tests/assets/test_tenios_end_to_end.py"
RECOVERY = "tests/recovery"
INTERLEAVINGS = "tests/recovery/test_interleavings.py"
CHECKS_PY = "pipelines/assets/checks.py"
CHECKS_TEST = "tests/assets/test_checks.py"

MUTANTS: tuple[Mutant, ...] = (
    # --- loading --------------------------------------------------------------------------------
    Mutant("merge-rewrites-identical-rows", "loading", "the MERGE's WHEN MATCHED guard (re-runs rewrite nothing)",
           "sql/load/merge_call_legs.sql", "    WHEN MATCHED AND\n", "    WHEN MATCHED AND true OR\n",
           ("tests/assets/test_rerun_idempotency.py",)),
    Mutant("window-dedupe-keeps-first", "dedupe", "the last staged version of a repeated leg wins",
           "sql/load/merge_call_legs.sql", "ORDER BY provider, account, leg_key, started_at, seq DESC",
           "ORDER BY provider, account, leg_key, started_at, seq ASC",
           ("tests/warehouse/test_load_path.py",)),
    Mutant("unchanged-window-parsed-again", "loading", "a window whose pages and parser are unchanged is skipped",
           "pipelines/warehouse/load.py", "if not force and last is not None and",
           "if False and last is not None and", (E2E_TENIOS,)),
    Mutant("stale-parse-loaded-after-concurrent-fetch", "loading",
           "the re-parse when a fetch landed between parse and lock",
           "pipelines/warehouse/load.py", "if current_ids != parsed.raw_ids:  # a fetch landed since",
           "if False:  # a fetch landed since", (INTERLEAVINGS,)),
    Mutant("parser-version-constant", "loading", "a changed parser or parse setting re-parses loaded days",
           "pipelines/providers/spec.py", "        return digest.hexdigest()[:16]",
           "        return \"constant\"", ("tests/test_configuration.py", E2E_TENIOS)),
    Mutant("quarantine-dropped", "quarantine", "refused records are stored in cdr.quarantine, not dropped",
           "pipelines/warehouse/load.py", "            kind_and_rows[1].append(item)",
           "            kind_and_rows[1].append(item) if kind_and_rows[0] is not QUARANTINE else None",
           ("tests/fuzz/test_bad_records_quarantined.py",)),
    Mutant("parse-notes-not-counted", "loading", "what a parser assumed is counted in the day's figures",
           "pipelines/warehouse/load.py",
           "                notes[item.name] = item if seen is None else seen._replace(total=seen.total + item.total)",
           "                pass", ("tests/warehouse/test_load_path.py",)),
    Mutant("audit-not-written", "loading", "every window load is audited in cdr.load_audit",
           "pipelines/warehouse/load.py", "    _record_audit(conn, provider, account, window, stats)\n    return stats",
           "    return stats", (E2E_TENIOS, "tests/faults/test_provider_fault_matrix.py")),
    Mutant("belfabriek-twins-collapse", "dedupe", "identical Belfabriek records are told apart by their ordinal",
           "pipelines/providers/belfabriek/parse.py", '    leg_key = f"{content.hex()}-{ordinal}"',
           '    leg_key = f"{content.hex()}-0"', ("tests/assets/test_belfabriek_end_to_end.py",)),
    Mutant("mixvoip-twins-collapse", "dedupe", "identical MIXvoip records are told apart by their ordinal (no id exists)",
           "pipelines/providers/mixvoip/parse.py", '    key = f"{base}.{ordinal}"', '    key = f"{base}.0"',
           ("tests/providers/mixvoip", "tests/assets/test_mixvoip_end_to_end.py")),
    Mutant("tenios-key-not-uuid", "dedupe", "a TENIOS leg's key is its uuid",
           "pipelines/providers/tenios/parse.py", "    uuid = required_text(PROVIDER, record, \"uuid\")",
           "    uuid = required_text(PROVIDER, record, \"uuid\") + str(id(record))",
           ("tests/providers/tenios/test_parse.py", E2E_TENIOS)),
    # --- locks ----------------------------------------------------------------------------------
    Mutant("fetch-lock-removed", "locks", "fetches of one window are serialised across processes",
           "pipelines/warehouse/locks.py",
           '    advisory_lock(conn, "fetch", provider, account, window[0].isoformat(), window[1].isoformat())',
           "    pass", (INTERLEAVINGS, "tests/recovery/test_concurrent_runs.py")),
    Mutant("load-lock-removed", "locks", "merges into one account's legs are serialised",
           "pipelines/warehouse/locks.py", '    advisory_lock(conn, "load", provider, account)', "    pass",
           (INTERLEAVINGS, "tests/recovery/test_concurrent_runs.py")),
    Mutant("leg-change-lock-shared-removed", "locks", "loads take the leg-change lock (shared)",
           "pipelines/warehouse/locks.py", '    advisory_lock_shared(conn, "leg changes", provider, account)',
           "    pass", (INTERLEAVINGS,)),
    Mutant("leg-change-lock-exclusive-removed", "locks", "derived refreshes exclude leg changes",
           "pipelines/warehouse/locks.py", '    advisory_lock(conn, "leg changes", provider, account)',
           "    pass", (INTERLEAVINGS,)),
    # --- retries and timeouts -------------------------------------------------------------------
    Mutant("retry-without-delay", "retries", "backoff between attempts",
           "pipelines/providers/base.py", "        return max(jittered, min(retry_after or 0.0, self.backoff_max_s))",
           "        return 0.0", ("tests/faults/test_retries.py",)),
    Mutant("retry-without-jitter", "retries", "full jitter on the backoff",
           "pipelines/providers/base.py", "        jittered = self._random.uniform(0, ceiling)",
           "        jittered = ceiling", ("tests/faults/test_retries.py",)),
    Mutant("retry-after-ignored", "retries", "Retry-After is honoured",
           "pipelines/providers/base.py", "            wait = policy.delay(attempt, _retry_after_seconds(response))",
           "            wait = policy.delay(attempt, None)", ("tests/faults/test_retries.py",)),
    Mutant("backoff-not-growing", "retries", "the backoff ceiling doubles each attempt",
           "pipelines/providers/base.py", "self.backoff_base_s * (2 ** (attempt - 1))",
           "self.backoff_base_s", ("tests/faults/test_retries.py",)),
    Mutant("transport-errors-not-retried", "retries", "timeouts and resets are retried",
           "pipelines/providers/base.py", "        except httpx.TransportError as exc:",
           "        except httpx.UnsupportedProtocol as exc:",
           ("tests/faults/test_provider_fault_matrix.py",)),
    Mutant("auth-errors-retried", "retries", "refused credentials fail at once, never retried",
           "pipelines/providers/base.py", "            if not exc.retryable:\n                raise",
           "            if False:\n                raise", ("tests/faults/test_retries.py", E2E_TENIOS)),
    Mutant("client-timeout-ignored", "retries", "the client gives up at its own timeout",
           "pipelines/providers/tenios/client.py", "timeout=timeout_s, transport=transport,",
           "timeout=None, transport=transport,", ("tests/faults/test_retries.py",)),
    # --- parsing and time zones -----------------------------------------------------------------
    Mutant("belfabriek-wall-clock-read-as-utc", "time zones", "Belfabriek TIMESTAMPs are Amsterdam wall clock",
           "pipelines/providers/belfabriek/settings.py", 'TIMEZONE = ZoneInfo("Europe/Amsterdam")',
           'TIMEZONE = ZoneInfo("UTC")', ("tests/providers/belfabriek/test_parse.py",)),
    Mutant("offset-ignored", "time zones", "a stamp's own offset is applied",
           "pipelines/providers/common.py",
           "return (parsed.replace(tzinfo=naive_tz) if parsed.tzinfo is None else parsed).astimezone(UTC)",
           "return parsed.replace(tzinfo=UTC)",
           ("tests/providers/telecomx/test_parse.py", "tests/providers/mixvoip/test_parse.py")),
    Mutant("national-numbers-not-e164", "parsing", "national numbers become E.164 with the country code",
           "pipelines/numbers.py", "        digits = country_code + compact[1:]", "        return text",
           ("tests/providers/tenios/test_parse.py", "tests/providers/belfabriek/test_parse.py")),
    Mutant("unstorable-values-not-quarantined", "quarantine", "a value beyond its column is quarantined, not loaded to fail the window",
           "pipelines/providers/common.py", "    if value is not None and abs(value) > limit:",
           "    if False:", ("tests/warehouse/test_load_path.py", "tests/fuzz/test_parsers_fuzz.py")),
    # --- TENIOS readings (docs/providers/tenios.md) --------------------------------------------------
    Mutant("tenios-naive-stamps-read-as-utc", "time zones", "a TENIOS stamp without offset is read in stamp_time_zone",
           "pipelines/providers/tenios/settings.py", 'DEFAULT_STAMP_TIME_ZONE = "Europe/Berlin"',
           'DEFAULT_STAMP_TIME_ZONE = "UTC"', ("tests/providers/tenios/test_parse.py", E2E_TENIOS)),
    Mutant("tenios-window-start-not-early", "windows", "a TENIOS request asks from before the window start",
           "pipelines/providers/tenios/settings.py", "DEFAULT_REQUEST_START_LEAD_MS = 1000",
           "DEFAULT_REQUEST_START_LEAD_MS = 0", ("tests/providers/tenios/test_client.py", E2E_TENIOS)),
    Mutant("tenios-legs-outside-window-loaded", "windows", "legs outside the page's window are left to their own day",
           "pipelines/providers/tenios/parse.py",
           "    return window is not None and not window[0] <= started_at < window[1]", "    return False",
           ("tests/providers/tenios/test_parse.py", E2E_TENIOS)),
    Mutant("tenios-count-includes-other-days", "windows", "the TENIOS count is reconciled on the window's own legs",
           "pipelines/providers/tenios/client.py", "        return total - self._outside.get(window, 0)",
           "        return total", ("tests/providers/tenios/test_client.py", E2E_TENIOS)),
    Mutant("tenios-bad-credentials-not-auth", "retries", "TENIOS BAD_CREDENTIALS fails at once as an auth error",
           "pipelines/providers/tenios/client.py", '_AUTH_CODES = {"BAD_CREDENTIALS", ', "_AUTH_CODES = {",
           ("tests/providers/tenios/test_client.py", E2E_TENIOS)),
    Mutant("literal-nul-escape-text-refused", "quarantine", "only a real NUL escape is refused, not a backslash and u0000",
           "pipelines/providers/common.py", "    if NUL_ESCAPE.search(text):", '    if "\\\\u0000" in text:',
           ("tests/warehouse/test_load_path.py",)),
    # --- secrets --------------------------------------------------------------------------------
    Mutant("tenios-key-not-redacted", "secrets", "the access key is cut from provider error text",
           "pipelines/providers/tenios/client.py", '        detail = detail.replace(self._access_key, "***")',
           "        pass", ("tests/security/test_secrets_never_leak.py",)),
    Mutant("database-password-shown", "secrets", "the warehouse URL's password is redacted in logs",
           "pipelines/warehouse/connection.py", "    if password:\n        netloc",
           "    if False:\n        netloc", ("tests/warehouse/test_migrate_and_connection.py", "tests/test_user_mistakes.py")),
    # --- aggregates and calls -------------------------------------------------------------------
    Mutant("changed-days-not-marked-stale", "aggregates", "a merge marks the days it changed stale",
           "sql/load/merge_call_legs.sql", "    CROSS JOIN (VALUES ('aggregates', 0), ('calls', 0), ('calls', -1))",
           "    CROSS JOIN (VALUES ('aggregates', 0), ('calls', 0), ('calls', -1)) WHERE false",
           (E2E_TENIOS,)),
    Mutant("calls-day-before-not-refreshed", "aggregates", "a call starting the day before is re-assembled",
           "sql/load/merge_call_legs.sql", "('calls', 0), ('calls', -1)) AS t", "('calls', 0), ('calls', 0)) AS t",
           ("tests/warehouse/test_load_path.py",)),
    Mutant("refresh-without-clearing", "aggregates", "a refresh clears the marks it dealt with",
           "pipelines/warehouse/aggregates.py", '                conn.execute(sql_file("aggregates/clear_stale.sql"),',
           '                (lambda *a: None)(sql_file("aggregates/clear_stale.sql"),', (E2E_TENIOS,)),
    Mutant("account-refresh-skipped", "accounts", "each account's load refreshes its own calls and aggregates",
           "pipelines/assets/provider.py", "            if CALL_LEGS in spec.items:  # the day before too",
           "            if False:  # the day before too", ("tests/assets/test_many_accounts.py",)),
    # --- checks ---------------------------------------------------------------------------------
    Mutant("duplicate-check-always-passes", "checks", "no_duplicate_leg_keys fails on duplicates",
           CHECKS_PY, "_result(duplicates == 0,", "_result(True,", (CHECKS_TEST,)),
    Mutant("reconciliation-always-passes", "checks", "reconciles_with_provider_count fails on a mismatch",
           CHECKS_PY, "_result(not mismatches,", "_result(True,", (CHECKS_TEST,)),
    Mutant("calls-check-always-passes", "checks", "calls_match_legs fails on calls that do not match their legs",
           CHECKS_PY, "_result(not rows,", "_result(True,", (CHECKS_TEST,)),
    Mutant("aggregates-check-always-passes", "checks", "aggregates_match_legs fails on aggregates off their legs",
           CHECKS_PY, "_result(differing == 0,", "_result(True,", (CHECKS_TEST,)),
    Mutant("quarantine-share-check-always-passes", "checks", "a day's quarantine share above the threshold warns",
           CHECKS_PY, "_result(not over,", "_result(True,", (CHECKS_TEST,)),
    Mutant("telecomx-counters-check-always-passes", "checks", "counters_consistent fails on contradicting counters",
           "pipelines/providers/telecomx/sql/check_counters.sql", "  AND (outbound_answered > outbound_calls",
           "  AND false AND (outbound_answered > outbound_calls", (CHECKS_TEST,)),
    Mutant("reconciliation-without-a-count", "checks", "the provider-count check exists only where a count does",
           CHECKS_PY, "    if source.spec.has_provider_count:", "    if True:", (CHECKS_TEST,)),
    Mutant("duplicate-check-not-blocking", "checks", "duplicate leg keys stop the derived assets",
           CHECKS_PY, '@asset_check(asset=load, blocking=True,\n                 description="No leg key',
           '@asset_check(asset=load, blocking=False,\n                 description="No leg key', (CHECKS_TEST,)),
    Mutant("calls-check-not-blocking", "checks", "calls that do not match their legs stop the derived assets",
           CHECKS_PY, '@asset_check(asset=load, blocking=True,\n                 description="The stored calls',
           '@asset_check(asset=load, blocking=False,\n                 description="The stored calls', (CHECKS_TEST,)),
    Mutant("calls-check-commits", "checks", "the calls check recomputes in a transaction it rolls back",
           CHECKS_PY, "conn.transaction(force_rollback=True)", "conn.transaction()", (CHECKS_TEST,)),
    Mutant("pending-aggregates-reported", "checks", "days marked stale for the aggregates are pending, not wrong",
           "sql/checks/aggregate_mismatches.sql", "WHERE NOT (%(skip_pending)s AND EXISTS",
           "WHERE NOT (false AND EXISTS", (CHECKS_TEST,)),
    Mutant("pending-calls-reported", "checks", "days marked stale for the calls are pending, not wrong",
           "sql/checks/calls_changed.sql", "WHERE s.target = 'calls'", "WHERE false AND s.target = 'calls'",
           (CHECKS_TEST,)),
    Mutant("quarantine-threshold-fixed", "checks", "CDR_QUARANTINE_WARN_SHARE sets the quarantine warning",
           CHECKS_PY, "    limit = config.quarantine_warn_share", "    limit = 0.01", (CHECKS_TEST,)),
    # --- accounts and configuration -------------------------------------------------------------
    Mutant("disabled-accounts-loaded", "accounts", "an account with enabled = false is not loaded",
           "pipelines/config.py", "        accounts = tuple(a for a in listed if a.enabled)",
           "        accounts = tuple(listed)", ("tests/test_accounts_file.py",)),
)

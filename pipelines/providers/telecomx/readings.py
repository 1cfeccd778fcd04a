"""What one /pbx/cdrstats answer shows of the readings Telecom X's docs leave open, for `cdr-etl
accounts check --probe` (docs/providers/telecomx.md, "Readings the docs leave open"). Pure: a
fetched page in, (reading, observed) pairs out; nothing here changes how a body is parsed."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import orjson

from pipelines.errors import ParseError
from pipelines.model import FetchedPage
from pipelines.providers.telecomx.parse import stats_records
from pipelines.providers.telecomx.settings import COUNTER_FIELDS, IDENTITY_FIELDS


def _share(n: int, total: int) -> str:
    return f"all {total}" if n == total else f"{n} of {total}"


def _key_forms(keys: set[str]) -> str:
    numbers = sorted(int(k) for k in keys if k.strip().isdigit())
    odd = sorted(k for k in keys if not k.strip().isdigit())
    padded = sorted(k for k in keys if k.strip().isdigit() and len(k.strip()) > 1 and k.strip()[0] == "0")
    text = (f"{len(keys)} distinct, bare numbers {numbers[0]}-{numbers[-1]}" if numbers
            else f"{len(keys)} distinct, none a bare number")
    if padded:
        text += f", zero-padded: {', '.join(padded[:4])}"
    if odd:
        text += f", not numbers: {', '.join(repr(k[:20]) for k in odd[:4])}"
    return text


def observe_readings(page: FetchedPage) -> Iterable[tuple[str, str]]:
    """The answer's shape, the form of the interval keys, which hour key is busiest (where the
    server groups: UTC or Danish time), which counters each interval carries, and whether the
    inbound counters add up (the doc's example has inboundAnswered 0 throughout)."""
    grain = (page.request_params or {}).get("groupingInterval") or "DAY"
    try:
        employees = stats_records(orjson.loads(page.body))
    except (orjson.JSONDecodeError, ParseError) as exc:
        yield "answer shape", f"refused: {getattr(exc, 'reason', 'not JSON')}"
        return
    yield "answer shape", f"JSON array of {len(employees)} employees"
    objects = [e for e in employees if isinstance(e, dict)]
    if objects:
        yield "employee fields", ", ".join(f"{name} {_share(sum(name in e for e in objects), len(objects))}"
                                           for name in IDENTITY_FIELDS)
    intervals = [(str(key), values) for e in objects if isinstance(e.get("data"), dict)
                 for key, values in e["data"].items() if isinstance(values, dict)]
    if not intervals:
        yield "intervals", "none in this answer: probe a day with calls to see keys and counters"
        return
    keys = {key for key, _ in intervals}
    yield f"interval keys ({grain})", _key_forms(keys)
    if grain == "HOUR":
        calls: Counter = Counter()
        for key, values in intervals:
            calls[key] += _number(values.get("inboundCalls")) + _number(values.get("outboundCalls"))
        busiest, quietest = calls.most_common()[0], calls.most_common()[-1]
        yield "busiest hour key", (f"{busiest[0]} ({busiest[1]} calls), quietest {quietest[0]}"
                                   f" ({quietest[1]}): Danish office hours at keys 6-16 mean UTC hours"
                                   " (the default reading), at 8-17 Danish hours"
                                   " (TELECOMX_GROUPING_TIMEZONE=Europe/Copenhagen)")
    missing = Counter(name for _, values in intervals for name in COUNTER_FIELDS if name not in values)
    as_text = sum(isinstance(v, str) for _, values in intervals for v in values.values())
    counters = (f"all {len(COUNTER_FIELDS)} in every interval" if not missing else "missing: "
                + ", ".join(f"{name} in {n} of {len(intervals)}" for name, n in missing.most_common()))
    yield "counters present", counters + (f"; {as_text} sent as text" if as_text else "")
    inbound = [values for _, values in intervals if _number(values.get("inboundCalls"))]
    if inbound:
        zero = sum(_number(v.get("inboundAnswered")) == 0 for v in inbound)
        parts = ("inboundAnswered", "inboundUnanswered", "inboundBusy")
        add_up = sum(sum(_number(v.get(name)) for name in parts) == _number(v.get("inboundCalls"))
                     for v in inbound)
        total = len(inbound)
        yield "inbound counters", (f"inboundAnswered 0 in {_share(zero, total)} intervals with inbound calls;"
                                   f" answered + unanswered + busy = inboundCalls in {_share(add_up, total)}")


def _number(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

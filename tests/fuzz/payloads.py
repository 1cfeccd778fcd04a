"""Seed pages and hypothesis strategies that mutate them, for the parser fuzz tests.

Seeds are the checked-in fixtures (the providers' doc examples) plus one day of each simulator's
output, fetched over loopback by the provider's own client, so the mutations start from bodies
that parse and exercise the parsers' deep paths, not only their "not JSON" exits.
"""
from __future__ import annotations

import copy
import json
import os
import signal
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import orjson
from hypothesis import strategies as st
from lxml import etree

from pipelines.providers import registry
from pipelines.simulators import running_simulators
from pipelines.model import RawPage

FIXTURES = Path(__file__).parents[1] / "fixtures"
PROVIDERS = ("tenios", "mixvoip", "telecomx", "belfabriek")
SEED_DAY = datetime(2026, 3, 29, tzinfo=timezone.utc)  # a DST change in Europe: odd local times
SEED_WINDOW = (SEED_DAY, SEED_DAY + timedelta(days=1))
RECORDS_PER_SEED = 6  # small bodies keep an example fast; mutations duplicate records anyway

# The requests that produced the checked-in fixtures (Telecom X maps interval keys through them).
_FIXTURE_PARAMS = {
    "tenios": {"page": 1, "page_size": 500},
    "mixvoip": {"profile_id": "100201", "start_date": "2021-06-29", "end_date": "2021-06-30", "format": "json"},
    "telecomx": {"customer": "12345678901234567890ABCD", "from": "2020-11-30T00:00:00.000Z",
                 "to": "2020-12-20T23:59:59.999Z", "groupingInterval": "WEEK"},
    "belfabriek": {"servicenumber": "318001234567"},
}


# --- seeds ------------------------------------------------------------------------------------

def _trim(body: bytes) -> bytes:
    """The first few records of a JSON body (an array, or TENIOS's {"items": [...]})."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(document, list):
        return orjson.dumps(document[:RECORDS_PER_SEED])
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        return orjson.dumps({**document, "items": document["items"][:RECORDS_PER_SEED]})
    return body


def _simulator_pages() -> dict[str, list[RawPage]]:
    """One day of every simulator, fetched by each provider's own client; os.environ restored."""
    saved = dict(os.environ)
    pages: dict[str, list[RawPage]] = {name: [] for name in PROVIDERS}
    try:
        with running_simulators(list(PROVIDERS), legs_per_day=12):
            for name, spec in registry().items():
                client = spec.resource_from_env().process_config_and_initialize().open_client()
                try:
                    for fetched in client.fetch_window(SEED_WINDOW):
                        pages[name].append(RawPage(None, fetched.page, _trim(fetched.body), fetched.content_type,
                                                   dict(fetched.request_params), SEED_WINDOW))
                finally:
                    client.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return pages


@lru_cache(maxsize=1)
def seed_pages() -> dict[str, list[RawPage]]:
    pages = _simulator_pages()
    for name in PROVIDERS:
        for path in sorted((FIXTURES / name).iterdir()):
            pages[name].append(RawPage(None, 1, _trim(path.read_bytes()), None, _FIXTURE_PARAMS[name], None))
    return pages


# --- values that break assumptions ------------------------------------------------------------

_ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ufeff", "\u202e+4930", "０３０ １２３", "\ud7ff", "\U0001f4de", "NaN", "Infinity",
    "-0", "1e400", "-1e400", "99999999999999999999999", "0x1F", "1_000", "١٢٣", "null", "true",
    "2026-02-30T25:61:61Z", "31-12-9999 23:59:59", "00-00-0000 00:00:00", "29-03-2026 02:30:00",
    "25-10-2026 02:30:00", "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+14:00",
    "'; DROP TABLE cdr.fact_call_leg; --", "<![CDATA[x]]>", "&amp;", "\r\n", '"', "'", ",", "\\",
    "N/A", "-1", "1.5", "4294967296", "2147483648", "9223372036854775808", "1E+9", "12,5",
])
_HUGE_NUMBERS = st.sampled_from([2**31, 2**31 - 1, -2**31 - 1, 2**63 - 1, -2**63, 2**64, 10**30,
                                 1e308, -1e308, 1e-320, 0.1, -0.0, 123456789.123456789])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), _HUGE_NUMBERS,
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), _ODD_TEXT,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.text(max_size=8), _ODD_TEXT), children, max_size=4)),
    max_leaves=12,
)


def deep(depth: int, leaf=None, kind: str = "list"):
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def json_bytes(document) -> bytes:
    """Serialise what orjson cannot (ints beyond 64 bits, very deep nesting) with the stdlib."""
    try:
        return orjson.dumps(document)
    except (TypeError, orjson.JSONEncodeError):
        try:
            return json.dumps(document, default=str).encode("utf-8", "surrogatepass")
        except (RecursionError, ValueError):
            return b"[" * 5000 + b"]" * 5000


# --- JSON mutations ---------------------------------------------------------------------------

def _containers(value, limit: int = 400) -> list:
    """The dicts and lists inside `value`, breadth first (iterative: the documents nest deeply)."""
    found, queue = [], [value]
    while queue and len(found) < limit:
        node = queue.pop(0)
        if isinstance(node, (dict, list)):
            found.append(node)
            queue.extend(node.values() if isinstance(node, dict) else node)
    return found


def _copy(value):
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return value  # too deep to copy: share it (a later change then shows in both places)


@st.composite
def mutated_document(draw, document):
    """A copy of a decoded JSON document with 1-4 structural changes at random places."""
    document = _copy(document)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "duplicate", "retype", "rename", "wrap", "deep", "root", "numbers"]))
        if op == "root":
            document = draw(st.one_of(JSON_VALUES, st.just({"items": document}), st.just([document]),
                                      st.just({"error_code": "INVALID_ACCESS_KEY", "error_message": "x"}),
                                      st.just({"return": {"code": 500, "message": "boom"}}),
                                      st.just({str(i): r for i, r in enumerate(document)} if isinstance(document, list)
                                              else document)))
            continue
        nodes = _containers(document)
        if not nodes:
            document = draw(JSON_VALUES)
            continue
        node = draw(st.sampled_from(nodes))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            if isinstance(node, list):
                node.append(draw(JSON_VALUES))
            else:
                node[draw(st.text(max_size=8))] = draw(JSON_VALUES)
            continue
        key = draw(st.sampled_from(keys))
        if op == "drop":
            del node[key]
        elif op == "duplicate":
            if isinstance(node, list):
                node.insert(key, _copy(node[key]))
            else:
                node[key + "_"] = node[key]
        elif op == "retype":
            node[key] = draw(JSON_VALUES)
        elif op == "numbers":
            node[key] = draw(st.one_of(_HUGE_NUMBERS, _ODD_TEXT))
        elif op == "rename" and isinstance(node, dict):
            node[draw(st.one_of(st.text(max_size=8), _ODD_TEXT, st.just(key.upper())))] = node.pop(key)
        elif op == "wrap":
            node[key] = draw(st.sampled_from([[node[key]], {"value": node[key]}, json_bytes(node[key]).decode()]))
        elif op == "deep":
            node[key] = deep(draw(st.sampled_from([50, 500, 1100, 3000])), node[key],
                             draw(st.sampled_from(["list", "dict"])))
    return document


# --- XML mutations (Belfabriek) ---------------------------------------------------------------

_XML_SAFE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_XML_ATTACKS = [
    # entity expansion and external entities must fail as malformed XML, never expand or fetch
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
    b'<CALLER_DATA_RECORDS servicenumber="31800"><RECORD><NUMBER>&f;&f;&f;&f;</NUMBER></RECORD></CALLER_DATA_RECORDS>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<CALLER_DATA_RECORDS servicenumber="31800"><RECORD><NUMBER>&x;</NUMBER></RECORD></CALLER_DATA_RECORDS>',
    b'<CALLER_DATA_RECORDS servicenumber="31800"><RECORD><NUMBER>&undefined;</NUMBER></RECORD></CALLER_DATA_RECORDS>',
    b'<CALLER_DATA_RECORDS xmlns="urn:x" xmlns:b="urn:b" servicenumber="31800"><b:RECORD><b:DURATION>1'
    b'</b:DURATION><TIMESTAMP>01-01-2026 00:00:00</TIMESTAMP></b:RECORD></CALLER_DATA_RECORDS>',
    b"<CALLER_DATA_RECORDS servicenumber='31800'><RECORD><![CDATA[<TIMESTAMP>]]></RECORD><?pi x?><!-- c -->"
    b"</CALLER_DATA_RECORDS>",
]


@st.composite
def mutated_xml(draw, body: bytes) -> bytes:
    """The body with 1-4 element-level changes, or one of the known XML attacks spliced in."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(_XML_ATTACKS))
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return body
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter(etree.Element))
        element = draw(st.sampled_from(elements))
        parent = element.getparent()
        op = draw(st.sampled_from(["drop", "duplicate", "text", "rename", "attribute", "deep", "child", "root"]))
        if op == "drop" and parent is not None:
            parent.remove(element)
        elif op == "duplicate" and parent is not None:
            parent.insert(parent.index(element), copy.deepcopy(element))
        elif op == "text":
            element.text = draw(st.one_of(_XML_SAFE, _ODD_TEXT.filter(lambda s: "\x00" not in s and "\ud7ff" != s)))
        elif op == "rename":
            element.tag = draw(st.sampled_from(["RECORD", "NO_RECORD", "ERROR", "MESSAGE", "CALLER_DATA_RECORDS",
                                                "CALLERS_DATA_RECORDS", "TIMESTAMP", "DURATION", "html", "X"]))
        elif op == "attribute":
            element.set(draw(st.sampled_from(["servicenumber", "startdate", "x"])), draw(_XML_SAFE))
        elif op == "deep":
            inner = element
            for _ in range(draw(st.sampled_from([10, 300, 3000]))):
                inner = etree.SubElement(inner, "RECORD")
        elif op == "child":
            etree.SubElement(element, draw(st.sampled_from(["RECORD", "TIMESTAMP", "DURATION", "NUMBER", "Z"]))
                             ).text = draw(_XML_SAFE)
        elif op == "root":
            wrapper = etree.Element(draw(st.sampled_from(["CALLERS_DATA_RECORDS", "html", "ERROR"])))
            wrapper.append(root)
            root = wrapper
    return etree.tostring(root, xml_declaration=draw(st.booleans()), encoding="UTF-8")


# --- CSV mutations (MIXvoip) ------------------------------------------------------------------

@st.composite
def mutated_csv(draw, body: bytes) -> bytes:
    lines = body.decode("utf-8", "replace").splitlines() or [""]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        fields = lines[i].split(",")
        op = draw(st.sampled_from(["drop_line", "dup_line", "drop_field", "dup_field", "retype", "quote", "join"]))
        j = draw(st.integers(0, len(fields) - 1))
        if op == "drop_line" and len(lines) > 1:
            del lines[i]
            continue
        if op == "dup_line":
            lines.insert(i, lines[i])
            continue
        if op == "join" and i + 1 < len(lines):
            lines[i:i + 2] = [lines[i] + draw(st.sampled_from(["", "\n", ",", '"'])) + lines[i + 1]]
            continue
        if op == "drop_field":
            del fields[j]
        elif op == "dup_field":
            fields.insert(j, fields[j])
        elif op == "retype":
            fields[j] = draw(st.one_of(_ODD_TEXT, st.text(max_size=20)))
        elif op == "quote":
            fields[j] = draw(st.sampled_from(['"', "'", '""', '"a,b"'])) + fields[j]
        lines[i] = ",".join(fields)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


# --- byte-level mutations, for every format ---------------------------------------------------

@st.composite
def mutated_bytes(draw, body: bytes) -> bytes:
    op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "encode", "random", "splice"]))
    if op == "truncate":
        return body[:draw(st.integers(0, max(0, len(body) - 1)))]
    if op == "random":
        return draw(st.binary(max_size=200))
    if op == "encode":
        text = body.decode("utf-8", "replace")
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig"]))
        return text.encode(encoding, "replace")
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            position = min(position, len(data) - 1)
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[position:position] = draw(st.one_of(st.binary(min_size=1, max_size=6),
                                                     st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\xef\xbb\xbf",
                                                                      b'"', b"<", b"]]>", b"\n", b"\\u0000"])))
        elif op == "delete" and data:
            del data[position:position + draw(st.integers(1, 20))]
        elif op == "splice":
            chunk = bytes(data[position:position + draw(st.integers(1, 200))])
            data[position:position] = chunk
    return bytes(data)


_RAW_BREAKS = bytes.maketrans(b"\r\n\t", b"   ")


def _format(page: RawPage) -> str:
    head = page.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "xml" if head == b"<" else "csv"


@st.composite
def mutated_body(draw, page: RawPage) -> bytes:
    """A body derived from the seed page: structural changes, then maybe byte-level ones."""
    body = page.body
    kind = _format(page)
    if draw(st.integers(0, 3)):  # mostly structural: those reach the record-level code
        if kind == "json":
            # MIXvoip's doc example has raw line breaks inside strings; as whitespace they decode
            body = json_bytes(draw(mutated_document(orjson.loads(body.translate(_RAW_BREAKS)))))
        elif kind == "xml":
            body = draw(mutated_xml(body))
        else:
            body = draw(mutated_csv(body))
    if draw(st.integers(0, 2)) == 0:
        body = draw(mutated_bytes(body))
    return body


@st.composite
def mutated_params(draw, params: dict | None) -> dict | None:
    """Usually the seed's request as it was; sometimes with values the parser may lean on changed.

    Never with a NUL: request_params come back from a jsonb column, which cannot hold one."""
    if params is None or draw(st.integers(0, 4)):
        return params
    params = dict(params)
    key = draw(st.sampled_from(sorted(params) + ["groupingInterval", "servicenumber", "profile_id", "customer"]))
    params[key] = draw(st.one_of(JSON_VALUES, st.sampled_from(["HOUR", "DAY", "WEEK", "MONTH", "YEAR",
                                                               "2026-13-01T00:00:00Z", "1900-01-01T00:00:00Z",
                                                               "9999-12-31T23:59:59Z"]))
                       .filter(lambda value: "\\u0000" not in json_bytes(value).decode("utf-8", "replace")))
    return params


@st.composite
def fuzzed_pages(draw, provider: str) -> list[RawPage]:
    """One to three pages of one window, each a mutation of a seed page of `provider`."""
    seeds = seed_pages()[provider]
    pages = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        seed = draw(st.sampled_from(seeds))
        pages.append(seed._replace(raw_response_id=number, page=number, body=draw(mutated_body(seed)),
                                   request_params=draw(mutated_params(seed.request_params))))
    return pages


# --- what the warehouse accepts ----------------------------------------------------------------

INT4 = frozenset({"duration_s", "record_index", "outbound_calls", "outbound_answered", "outbound_unanswered",
                  "outbound_failed", "inbound_calls", "inbound_answered", "inbound_unanswered", "inbound_busy"})
INT8 = frozenset({"outbound_seconds", "inbound_seconds", "raw_response_id"})
NUMERIC_14_6 = frozenset({"billable_s", "cost_eur"})  # numeric(14, 6): |x| < 10^8
JSONB = frozenset({"attributes"})


def unstorable(item) -> list[str]:
    """Why PostgreSQL would refuse this row in the COPY or the merge (empty: it would store it).

    A parser must quarantine such a record: otherwise one bad value fails the whole window's load
    instead of landing in cdr.quarantine with the rest of the page loaded.
    """
    problems = []
    for name, value in item._asdict().items():
        if isinstance(value, str):
            if "\x00" in value:
                problems.append(f"{name}: NUL character (text cannot hold it)")
            if name in JSONB and "\\u0000" in value:
                problems.append(f"{name}: \\u0000 escape (jsonb cannot hold it)")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(f"{name}: lone surrogate (not UTF-8)")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            bits = 31 if name in INT4 else 63
            if not -2**bits <= value < 2**bits:
                problems.append(f"{name}: {value} out of range")
        elif isinstance(value, (Decimal, float)) and name in NUMERIC_14_6:
            if not abs(Decimal(str(value))) < Decimal(10) ** 8:
                problems.append(f"{name}: {value} overflows numeric(14, 6)")
    return problems


# --- a hard bound on one example --------------------------------------------------------------

class Hang(BaseException):  # not Exception: a parser's broad except must not swallow it
    pass


@contextmanager
def time_limit(seconds: float):
    """Fail an example that runs longer than `seconds` (hypothesis's deadline only reports after
    the example returns; a parser stuck in a loop would never return)."""
    def expire(signum, frame):
        raise Hang(f"parse did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""Seed pages and hypothesis strategies that mutate them, for the parser fuzz tests.

Seeds are each provider's doc examples (its conformance fixtures) plus one day of its simulator's
output, fetched over loopback by the provider's own client, so the mutations start from bodies
that parse and exercise the parsers' deep paths, not only their "not JSON" exits. What a
provider adds to the mutations (its error answers, attacks on its format, request values its
parser reads) comes from its conformance; the rest depends on the body's format alone.
"""
from __future__ import annotations

import copy
import json
import os
import re
import signal
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

import orjson
import psycopg
from hypothesis import strategies as st
from lxml import etree

from pipelines.config import account_from_env
from pipelines.model import RawPage
from pipelines.simulators import running_simulators
from tests.providers_under_test import providers_under_test

SPECS = providers_under_test()
SEED_DAY = datetime(2026, 3, 29, tzinfo=UTC)  # a DST change in Europe: odd local times
SEED_WINDOW = (SEED_DAY, SEED_DAY + timedelta(days=1))
RECORDS_PER_SEED = 6  # small bodies keep an example fast; mutations duplicate records anyway


# --- seeds ------------------------------------------------------------------------------------

def _trim(body: bytes) -> bytes:
    """The first few records of a JSON body (an array, or the arrays of an envelope object)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(document, list):
        return orjson.dumps(document[:RECORDS_PER_SEED])
    if isinstance(document, dict):
        return orjson.dumps({key: value[:RECORDS_PER_SEED] if isinstance(value, list) else value
                             for key, value in document.items()})
    return body


def _simulator_pages() -> dict[str, list[RawPage]]:
    """One day of every simulator, fetched by each provider's own client; os.environ restored.
    Settings another test left in the environment (a provider's or simulator's variables) are
    cleared first: the seeds, and so the share of inputs reaching the records, are the same
    whichever test ran before in this process."""
    saved = dict(os.environ)
    pages: dict[str, list[RawPage]] = {name: [] for name in SPECS}
    prefixes = (*(f"{name.upper()}_" for name in SPECS), "CDR_ACCOUNTS_FILE", "CDR_PROVIDERS")
    for variable in [v for v in os.environ if v.startswith(prefixes)]:
        del os.environ[variable]
    try:
        with running_simulators(list(SPECS), legs_per_day=12):
            for name, spec in SPECS.items():
                client = account_from_env(spec, os.environ).open_client(os.environ)
                try:
                    for fetched in client.fetch_window(SEED_WINDOW):
                        pages[name].append(RawPage(None, fetched.page, _trim(fetched.body),
                                                   fetched.content_type, dict(fetched.request_params),
                                                   SEED_WINDOW))
                finally:
                    client.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return pages


@cache
def seed_pages() -> dict[str, list[RawPage]]:
    """Each provider's seeds: its simulator's pages first, then its doc examples."""
    pages = _simulator_pages()
    for name, spec in SPECS.items():
        for body, params in spec.conformance.fixture_pages():
            pages[name].append(RawPage(None, 1, _trim(body), None, params, None))
    return pages


# --- values that break assumptions ------------------------------------------------------------

_ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ufeff", "\u202e+4930", "０３０ １２３", "\ud7ff", "\U0001f4de", "NaN",
    "Infinity", "-0", "1e400", "-1e400", "99999999999999999999999", "0x1F", "1_000", "١٢٣", "null", "true",
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
                               st.dictionaries(st.one_of(st.text(max_size=8), _ODD_TEXT), children,
                                               max_size=4)),
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
def mutated_document(draw, document, answers: tuple = ()):
    """A copy of a decoded JSON document with 1-4 structural changes at random places; `answers`
    are whole documents the provider may send instead (its error and empty answers)."""
    document = _copy(document)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "duplicate", "retype", "rename", "wrap", "deep", "root",
                                   "numbers"]))
        if op == "root":
            # replaced, wrapped in an envelope or a list, an array as an object keyed by index, or
            # one of the provider's own answers instead
            keyed = {str(i): r for i, r in enumerate(document)} if isinstance(document, list) else document
            document = draw(st.one_of(JSON_VALUES, st.just({"items": document}), st.just([document]),
                                      st.just(keyed), *(st.just(answer).map(_copy) for answer in answers)))
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
            node[key] = draw(st.sampled_from([[node[key]], {"value": node[key]},
                                              json_bytes(node[key]).decode()]))
        elif op == "deep":
            node[key] = deep(draw(st.sampled_from([50, 500, 1100, 3000])), node[key],
                             draw(st.sampled_from(["list", "dict"])))
    return document


# --- XML mutations ----------------------------------------------------------------------------

_XML_SAFE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_START_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)([^>]*)>")
_ATTRIBUTE = re.compile(rb"([A-Za-z_][\w.:-]*)\s*=")


@cache
def xml_names(provider: str) -> tuple[list[str], list[str]]:
    """The element and attribute names of the provider's XML seeds and answers: what renamed and
    added elements are called, so that mutations reach the parser's record-level code."""
    conformance = SPECS[provider].conformance
    bodies = [page.body for page in seed_pages()[provider]]
    bodies += [answer[0].encode() for answer in (conformance.empty_answer, conformance.error_answer)
               if answer]
    tags, attributes = set(), set()
    for body in bodies:
        for tag, inside in _START_TAG.findall(body):
            tags.add(tag.decode())
            attributes.update(name.decode() for name in _ATTRIBUTE.findall(inside))
    return sorted(tags), sorted(attributes)


@st.composite
def mutated_xml(draw, body: bytes, provider: str) -> bytes:
    """The body with 1-4 element-level changes."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return body
    tags, attributes = xml_names(provider)
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter(etree.Element))
        element = draw(st.sampled_from(elements))
        parent = element.getparent()
        op = draw(st.sampled_from(["drop", "duplicate", "text", "rename", "attribute", "deep", "child",
                                   "root"]))
        if op == "drop" and parent is not None:
            parent.remove(element)
        elif op == "duplicate" and parent is not None:
            parent.insert(parent.index(element), copy.deepcopy(element))
        elif op == "text":
            element.text = draw(st.one_of(_XML_SAFE,
                                          _ODD_TEXT.filter(lambda s: "\x00" not in s and s != "\ud7ff")))
        elif op == "rename":
            element.tag = draw(st.sampled_from([*tags, "html", "X"]))
        elif op == "attribute":
            element.set(draw(st.sampled_from([*attributes, "x"])), draw(_XML_SAFE))
        elif op == "deep":
            inner, name = element, draw(st.sampled_from(tags))
            for _ in range(draw(st.sampled_from([10, 300, 3000]))):
                inner = etree.SubElement(inner, name)
        elif op == "child":
            etree.SubElement(element, draw(st.sampled_from([*tags, "Z"]))).text = draw(_XML_SAFE)
        elif op == "root":
            wrapper = etree.Element(draw(st.sampled_from([*tags, "html"])))
            wrapper.append(root)
            root = wrapper
    return etree.tostring(root, xml_declaration=draw(st.booleans()), encoding="UTF-8")


# --- CSV mutations ----------------------------------------------------------------------------

@st.composite
def mutated_csv(draw, body: bytes) -> bytes:
    lines = body.decode("utf-8", "replace").splitlines() or [""]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        fields = lines[i].split(",")
        op = draw(st.sampled_from(["drop_line", "dup_line", "drop_field", "dup_field", "retype", "quote",
                                   "join"]))
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
            data[position:position] = draw(st.one_of(
                st.binary(min_size=1, max_size=6),
                st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\xef\xbb\xbf", b'"', b"<", b"]]>", b"\n",
                                 b"\\u0000"])))
        elif op == "delete" and data:
            del data[position:position + draw(st.integers(1, 20))]
        elif op == "splice":
            chunk = bytes(data[position:position + draw(st.integers(1, 200))])
            data[position:position] = chunk
    return bytes(data)


_RAW_BREAKS = bytes.maketrans(b"\r\n\t", b"   ")
ODD_MOMENTS = ["2026-13-01T00:00:00Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]


def _format(page: RawPage) -> str:
    head = page.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "xml" if head == b"<" else "csv"


@cache
def _json_answers(provider: str) -> tuple:
    """The provider's empty and error answers that are JSON, decoded."""
    conformance = SPECS[provider].conformance
    answers = []
    for answer in (conformance.empty_answer, conformance.error_answer):
        with suppress(orjson.JSONDecodeError):
            answers.extend([orjson.loads(answer[0])] if answer else [])
    return tuple(answers)


@st.composite
def mutated_body(draw, page: RawPage, provider: str) -> bytes:
    """A body derived from the seed page: structural changes (or, now and then, one of the
    provider's attacks on its format), then maybe byte-level ones."""
    body = page.body
    kind = _format(page)
    hostile = SPECS[provider].conformance.hostile_bodies
    if draw(st.integers(0, 3)):  # mostly structural: those reach the record-level code
        if hostile and draw(st.integers(0, 9)) == 0:
            body = draw(st.sampled_from(hostile))
        elif kind == "json":
            # a doc example may have raw line breaks inside strings; as whitespace they decode
            document = orjson.loads(body.translate(_RAW_BREAKS))
            body = json_bytes(draw(mutated_document(document, _json_answers(provider))))
        elif kind == "xml":
            body = draw(mutated_xml(body, provider))
        else:
            body = draw(mutated_csv(body))
    if draw(st.integers(0, 2)) == 0:
        body = draw(mutated_bytes(body))
    return body


@cache
def _param_keys(provider: str) -> list[str]:
    return sorted({key for page in seed_pages()[provider] for key in page.request_params or ()})


@st.composite
def mutated_params(draw, params: dict | None, provider: str) -> dict | None:
    """Usually the seed's request as it was; sometimes with a value the parser may lean on changed
    (or a parameter another of the provider's requests has, added).

    Never with a NUL: request_params come back from a jsonb column, which cannot hold one."""
    if params is None or draw(st.integers(0, 4)):
        return params
    params = dict(params)
    key = draw(st.sampled_from(_param_keys(provider)))
    values = [*SPECS[provider].conformance.param_values, *ODD_MOMENTS]
    params[key] = draw(st.one_of(JSON_VALUES, st.sampled_from(values))
                       .filter(lambda value: "\\u0000" not in json_bytes(value).decode("utf-8", "replace")))
    return params


@st.composite
def fuzzed_pages(draw, provider: str) -> list[RawPage]:
    """One to three pages of one window, each a mutation of a seed page of `provider`."""
    seeds = seed_pages()[provider]
    pages = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        seed = draw(st.sampled_from(seeds))
        pages.append(seed._replace(raw_response_id=number, page=number,
                                   body=draw(mutated_body(seed, provider)),
                                   request_params=draw(mutated_params(seed.request_params, provider))))
    return pages


# --- what the warehouse accepts ----------------------------------------------------------------

_INT_BITS = {"smallint": 15, "integer": 31, "bigint": 63}


def column_types(url: str, tables) -> dict[str, dict[str, tuple[str, int | None, int | None]]]:
    """Each table's columns as PostgreSQL declares them: (data type, numeric precision, scale)."""
    query = ("SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
             " WHERE table_schema = %s AND table_name = %s")
    with psycopg.connect(url) as conn:
        return {table: {name: types for name, *types in conn.execute(query, table.split(".")).fetchall()}
                for table in tables}


# a JSON \u0000 escape: after an even number of backslashes (`\\u0000` is a backslash and "u0000",
# which jsonb holds)
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def unstorable(item, columns: dict[str, tuple[str, int | None, int | None]]) -> list[str]:
    """Why PostgreSQL would refuse this row in the COPY or the merge into the table whose
    `column_types` are `columns` (empty: it would store it).

    A parser must quarantine such a record: otherwise one bad value fails the whole window's load
    instead of landing in cdr.quarantine with the rest of the page loaded.
    """
    problems = []
    for name, value in item._asdict().items():
        data_type, precision, scale = columns.get(name, ("", None, None))
        if isinstance(value, str):
            if "\x00" in value:
                problems.append(f"{name}: NUL character (text cannot hold it)")
            if data_type == "jsonb" and _NUL_ESCAPE.search(value):
                problems.append(f"{name}: \\u0000 escape (jsonb cannot hold it)")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(f"{name}: lone surrogate (not UTF-8)")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and data_type != "numeric":
            bits = _INT_BITS.get(data_type, 63)
            if not -2**bits <= value < 2**bits:
                problems.append(f"{name}: {value} out of range")
        elif (isinstance(value, (int, Decimal, float)) and data_type == "numeric" and precision is not None
              and not abs(Decimal(str(value))) < Decimal(10) ** (precision - (scale or 0))):
            problems.append(f"{name}: {value} overflows numeric({precision}, {scale})")
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

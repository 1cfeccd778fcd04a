"""What the shared test suites need to know of TENIOS (pipelines.providers.spec.Conformance)."""
from __future__ import annotations

from pathlib import Path

import orjson

from pipelines.providers.spec import Conformance, Login
from pipelines.providers.tenios.settings import RETRIEVE_PATH

_FILES = Path(__file__).with_name("conformance")
# the fields a leg carries verbatim (uuid -> leg_key, bleg_uuid -> linked_leg_key, the numbers, ...)
_TEXT_FIELDS = ("uuid", "call_type", "bleg_uuid", "callerid_name", "callerid_number", "destination_number",
                "hangup_cause", "source_type")


def record_count(body: bytes) -> int:
    return len(orjson.loads(body)["items"])


def break_record(body: bytes, index: int, bad: str) -> bytes:
    document = orjson.loads(body)
    document["items"][index]["start_stamp"] = bad or None  # a leg has no time without it
    return orjson.dumps(document)


def with_text(body: bytes, index: int, text: str) -> bytes:
    document = orjson.loads(body)
    document["items"][index].update(dict.fromkeys(_TEXT_FIELDS, text))
    return orjson.dumps(document)


CONFORMANCE = Conformance(
    data_path=RETRIEVE_PATH,
    empty_answer=('{"items":[],"total_items":0,"page":1,"page_size":0}', "application/json"),
    error_answer=('{"error_code": "INTERNAL_ERROR", "error_message": "try later"}', "application/json"),
    fixtures=((_FILES / "retrieve_doc_example.json", {"page": 1, "page_size": 500}),),
    record_count=record_count,
    break_record=break_record,
    with_text=with_text,
    logins=(Login("access key", wrong={"access_key": "sim-tenios-wrong-5b8e0a"}),),
    reports_record_count=True,  # total_items
    paging_faults=True,
    paging_settings={"page_size": "100"},  # a simulated day of 300 legs on three pages
    # another endpoint's answer is no page of legs, however well-formed (parse.decode_body)
    foreign_answers=(
        ("/cdrs/count answer", '{"total_items": 51}', "application/json"),
        ("/verification/create answer", '{"verification_id": "3f9c1e2a"}', "application/json"),
    ),
)

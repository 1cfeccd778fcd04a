"""What the shared test suites need to know of MIXvoip (pipelines.providers.spec.Conformance)."""
from __future__ import annotations

from pathlib import Path

import orjson

from pipelines.providers.mixvoip.settings import GETCALLS_PATH
from pipelines.providers.spec import Conformance, Login

_FILES = Path(__file__).with_name("conformance")
# The API (and its simulator) writes raw line breaks inside strings ("2021-06-29\n08:13:50"),
# which JSON does not allow; as spaces they decode, and the parser reads the time the same.
_RAW_BREAKS = bytes.maketrans(b"\n", b" ")
# where a record's fields are kept verbatim: numbers, product name, extension, invoice
_TEXT_FIELDS = ("source", "destination", "destination_name", "pbxextension", "invoice")


def _records(body: bytes) -> list:
    return orjson.loads(body.translate(_RAW_BREAKS))


def record_count(body: bytes) -> int:
    return len(_records(body))


def break_record(body: bytes, index: int, bad: str) -> bytes:
    records = _records(body)
    records[index]["data"]["call_start"] = bad
    return orjson.dumps(records)


def with_text(body: bytes, index: int, text: str) -> bytes:
    records = _records(body)
    records[index]["data"].update(dict.fromkeys(_TEXT_FIELDS, text))
    return orjson.dumps(records)


# /invoices/getBillingData's documented answer (NOTES.md section 2): the envelope with code 200 and
# its invoiced items, or none for a month without any. Served on getcalls, neither is zero calls.
_BILLING_ITEM = {"id": "812345", "pid": "100201", "tag": "", "date": "2021-06-29 08:24:31", "type": "CALLOUT",
                 "product": "Luxembourg mobile", "description": "Luxembourg mobile", "src": "+35220333320",
                 "dst": "35262123456", "amountbuy": "0.0700"}
FOREIGN_ANSWERS = (
    ("/invoices/getBillingData answer",
     orjson.dumps({"return": {"code": 200, "message": "OK", "data": [_BILLING_ITEM]}}).decode(),
     "application/json"),
    ("/invoices/getBillingData answer for a month without items",
     '{"return":{"code":200,"message":"OK","data":[]}}', "application/json"),
)

_DOC_REQUEST = {"profile_id": "100201", "start_date": "2021-06-29", "end_date": "2021-06-30",
                "format": "json"}

CONFORMANCE = Conformance(
    data_path=GETCALLS_PATH,
    empty_answer=("[]", "application/json"),
    error_answer=('{"return": {"code": 500, "message": "internal error"}}', "application/json"),
    fixtures=tuple((_FILES / name, _DOC_REQUEST) for name in ("getcalls_doc_example.csv",
                                                             "getcalls_doc_example.json")),
    record_count=record_count,
    break_record=break_record,
    with_text=with_text,
    logins=(Login("password", wrong={"password": "sim-mixvoip-wrong-0c77"}),),
    foreign_answers=FOREIGN_ANSWERS,
)

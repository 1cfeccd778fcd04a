"""What the shared test suites need to know of Telecom X (pipelines.providers.spec.Conformance)."""
from __future__ import annotations

from pathlib import Path

import orjson

from pipelines.providers.spec import Conformance, Login
from pipelines.providers.telecomx.settings import GROUPINGS, STATS_PATH

_FILES = Path(__file__).with_name("conformance")
# A user its simulator accepts besides the token, for the password login.
SIM_USERNAME, SIM_PASSWORD = "etl@telecomx-sim.example", "sim-telecomx-password"
_TEXT_FIELDS = ("employeeId", "employeeName", "extensionId", "extensionNumber")  # an employee's identity


def record_count(body: bytes) -> int:
    return len(orjson.loads(body))


def break_record(body: bytes, index: int, bad: str) -> bytes:
    records = orjson.loads(body)
    records[index]["employeeId"] = [bad]  # any text is a valid id: a list is not
    return orjson.dumps(records)


def with_text(body: bytes, index: int, text: str) -> bytes:
    records = orjson.loads(body)
    records[index].update(dict.fromkeys(_TEXT_FIELDS, text))
    return orjson.dumps(records)


# Answers of Telecom X's other endpoints (NOTES.md section 4): /auth/login's documented fields;
# /pbx/cdr's body is unreadable in the docs [Q], so both of its likely shapes: calls with the
# /pbx/cdr/latest item fields, and the paging wrapper of the sibling /mvno/ID/cdr.
_CALL = {"_id": "5f1e2d3c4b5a69788796a5b4", "pbx": "5c5a97d983a3bc74d5891c00",
         "channelId": "1606210000.1234", "started": "2020-11-24T09:15:02.000Z",
         "answered": "2020-11-24T09:15:09.000Z", "answeredByCallee": True,
         "ended": "2020-11-24T09:17:40.000Z",
         "caller": {"number": "+4570203040", "name": "Bo Madsen", "privacy": False, "type": "SIPPHONE",
                    "extension": "232"},
         "callee": {"number": "+4533112233"}, "customer": "12345678901234567890ABCD",
         "terminatedBy": "A", "terminatedReason": "HANGUP"}
FOREIGN_ANSWERS = (
    ("/auth/login answer",
     orjson.dumps({"token": "c2ltLWZvcmVpZ24tbG9naW4tdG9rZW4", "expiresInMinutes": 15,
                   "employee": "5450f1834b75ff21032563a1", "customer": "12345678901234567890ABCD",
                   "accessLevel": "MANAGER"}).decode(), "application/json"),
    ("/pbx/cdr answer: an array of calls", orjson.dumps([_CALL]).decode(), "application/json"),
    ("/pbx/cdr answer in a paging wrapper",
     orjson.dumps({"offset": 0, "limit": 100, "total": 1, "cdr": [_CALL]}).decode(), "application/json"),
)

CONFORMANCE = Conformance(
    data_path=STATS_PATH,
    empty_answer=("[]", "application/json"),
    error_answer=('{"error": "internal_error", "message": "try later"}', "application/json"),
    fixtures=((_FILES / "cdrstats_doc_example.json",
               {"customer": "12345678901234567890ABCD", "from": "2020-11-30T00:00:00.000Z",
                "to": "2020-12-20T23:59:59.999Z", "groupingInterval": "WEEK"}),),
    record_count=record_count,
    break_record=break_record,
    with_text=with_text,
    logins=(Login("token", wrong={"token": "sim-telecomx-m2m-wrong-91aa"}),
            Login("password", wrong={"password": "sim-telecomx-password-wrong-d0d0"},
                  credentials={"token": "", "username": SIM_USERNAME, "password": SIM_PASSWORD})),
    rows_per_record=None,  # one per interval of the employee
    param_values=(*GROUPINGS, "YEAR"),  # groupingInterval: every grouping, and one the API lacks
    foreign_answers=FOREIGN_ANSWERS,
)

"""What the shared test suites need to know of Belfabriek (pipelines.providers.spec.Conformance)."""
from __future__ import annotations

from pathlib import Path

from lxml import etree

from pipelines.providers.belfabriek.settings import STATISTICS_PATH
from pipelines.providers.spec import Conformance, Login

_FILES = Path(__file__).with_name("conformance")
# what a RECORD carries verbatim (into attributes, and EXTENSION_ID into the extension column)
_TEXT_FIELDS = ("NUMBER", "LOCATION", "PEAK", "EXTENSION_ID", "EXTENSION_NAME")

# Attacks on XML itself: entity expansion and external entities must fail as malformed XML, never
# expand or fetch; namespaces, CDATA, processing instructions and comments must not confuse it.
HOSTILE_BODIES = (
    (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
     b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
     b'<CALLER_DATA_RECORDS servicenumber="31800">'
     b"<RECORD><NUMBER>&f;&f;&f;&f;</NUMBER></RECORD></CALLER_DATA_RECORDS>"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<CALLER_DATA_RECORDS servicenumber="31800">'
     b"<RECORD><NUMBER>&x;</NUMBER></RECORD></CALLER_DATA_RECORDS>"),
    (b'<CALLER_DATA_RECORDS servicenumber="31800">'
     b"<RECORD><NUMBER>&undefined;</NUMBER></RECORD></CALLER_DATA_RECORDS>"),
    (b'<CALLER_DATA_RECORDS xmlns="urn:x" xmlns:b="urn:b" servicenumber="31800"><b:RECORD><b:DURATION>1'
     b"</b:DURATION><TIMESTAMP>01-01-2026 00:00:00</TIMESTAMP></b:RECORD></CALLER_DATA_RECORDS>"),
    (b"<CALLER_DATA_RECORDS servicenumber='31800'><RECORD><![CDATA[<TIMESTAMP>]]></RECORD><?pi x?><!-- c -->"
     b"</CALLER_DATA_RECORDS>"),
)


def _records(root: etree._Element) -> list[etree._Element]:
    return root.findall(".//RECORD")


def record_count(body: bytes) -> int:
    return len(_records(etree.fromstring(body)))


def break_record(body: bytes, index: int, bad: str) -> bytes:
    root = etree.fromstring(body)
    for timestamp in _records(root)[index].iter("TIMESTAMP"):
        timestamp.text = bad.replace("\x00", "")  # XML cannot carry NUL at all
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def with_text(body: bytes, index: int, text: str) -> bytes:
    root = etree.fromstring(body)
    record = _records(root)[index]
    for name in _TEXT_FIELDS:
        field = record.find(name)
        (etree.SubElement(record, name) if field is None else field).text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


_DOC_REQUEST = {"servicenumber": "318001234567"}

# Answers of Belfabriek's other API on the same host, the XML-RPC "Agent Availability" API
# (/xml/agent/xml.asp, ivr.getAgentAvail), as a mistyped statistics_path would bring them: well-formed
# XML, declared iso-8859-1, with no data-record block. Then a JSON answer and a bare status document.
FOREIGN_ANSWERS = (
    ("Agent Availability answer (XML-RPC)",
     ('<?xml version="1.0" encoding="iso-8859-1"?>\n<methodResponse><params><param><value><array><data>'
      "<value><struct><member><name>extension</name><value><string>101</string></value></member>"
      "<member><name>name</name><value><string>Receptie Sn\u00e2ts</string></value></member>"
      "<member><name>available</name><value><boolean>1</boolean></value></member></struct></value>"
      "</data></array></value></param></params></methodResponse>\n"),
     "text/xml; charset=iso-8859-1"),
    ("Agent Availability fault (XML-RPC)",
     ('<?xml version="1.0" encoding="iso-8859-1"?>\n<methodResponse><fault><value><struct>'
      "<member><name>faultCode</name><value><int>1</int></value></member>"
      "<member><name>faultString</name><value><string>Invalid accountPin</string></value></member>"
      "</struct></value></fault></methodResponse>\n"),
     "text/xml"),
    ("an empty wrapper with no data-record block", '<?xml version="1.0" encoding="UTF-8"?>\n<STATISTICS/>\n',
     "text/xml"),
    ("a status document", '<?xml version="1.0"?><RESPONSE><STATUS>OK</STATUS><COUNT>0</COUNT></RESPONSE>',
     "application/xml"),
    ("an empty JSON array", "[]", "application/json"),
)

CONFORMANCE = Conformance(
    data_path=STATISTICS_PATH.rstrip("/"),
    empty_answer=(('<?xml version="1.0" encoding="UTF-8"?>\n<CALLERS_DATA_RECORDS>\n<CALLER_DATA_RECORDS>\n'
                   '  <NO_RECORD>No Record</NO_RECORD>\n</CALLER_DATA_RECORDS>\n</CALLERS_DATA_RECORDS>\n'),
                  "text/xml"),
    error_answer=("<ERROR>7</ERROR><MESSAGE>Internal error</MESSAGE>", "text/xml"),
    fixtures=tuple((_FILES / name, _DOC_REQUEST) for name in ("doc_example.xml", "error_invalid_hash.xml",
                                                             "no_record.xml")),
    record_count=record_count,
    break_record=break_record,
    with_text=with_text,
    # the client checks the documented shape (32 letters and digits), so the wrong hash keeps it
    logins=(Login("customer hash", wrong={"customer_hash": "wrongbelfabriek0c4e1a9f3b7d2e5a6"}),),
    hostile_bodies=HOSTILE_BODIES,
    foreign_answers=FOREIGN_ANSWERS,
)

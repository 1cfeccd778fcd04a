"""The shared value readers' shortcuts read what their general paths read."""
from __future__ import annotations

import pytest

from pipelines.errors import ParseError
from pipelines.providers.common import (
    INT4_MAX,
    attributes_json,
    number,
    text_or_none,
    text_value,
    whole_seconds,
)


def _general_reading(text: str):
    """whole_seconds' general path, written out: Decimal, then the range checks."""
    try:
        value = number("p", text, "duration")
    except ParseError:
        return "refused"
    if value is None:
        return None
    seconds = int(value.to_integral_value())
    return "refused" if value < 0 or seconds > INT4_MAX else seconds


@pytest.mark.parametrize("text", ["0", "61", "0061", "000000000", "999999999", "2147483647", "2147483648",
                                  "9999999999", " 61", "61 ", "6,0", "6.5", "-3", "\u0661\u0662", "\u00b2"])
def test_whole_seconds_of_digits_is_the_general_reading(text):
    """ASCII digits are read by int() directly; everything else, and what that shortcut leaves
    out, by the general path (Decimal), which decides alone whether a value is refused."""
    try:
        read = whole_seconds("p", text, "duration")
    except ParseError:
        read = "refused"
    assert read == _general_reading(text)


@pytest.mark.parametrize(("value", "read"), [("x", "x"), (" padded ", "padded"), ("", None), ("   ", None),
                                             (None, None), (7, "7"), (2.5, "2.5")])
def test_text_value_reads_a_value_taken_from_its_record(value, read):
    """What text_or_none reads of a record's field (it is text_value of `record.get(field)`)."""
    assert text_value("p", value, "f") == read
    assert text_or_none("p", {"f": value}, "f") == read


@pytest.mark.parametrize("value", ["a\x00b", True, ["x"], {"k": "v"}])
def test_text_value_refuses_what_text_cannot_hold_naming_the_field(value):
    with pytest.raises(ParseError, match=r"^p: field 'f': "):
        text_value("p", value, "f")


def test_attributes_refuse_only_a_real_nul_escape():
    with pytest.raises(ParseError, match="NUL"):
        attributes_json("p", {"k": "a\x00b"})
    # an escaped backslash before "u0000" is text, not the escape
    assert attributes_json("p", {"k": "a\\u0000"}) == '{"k":"a\\\\u0000"}'

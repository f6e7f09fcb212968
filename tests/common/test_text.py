import pytest

from common.text import has_control_characters, is_ascii_amount
from tenants.admin import ReasonForm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.00", True),
        ("１０.００", False),
        ("١٠", False),
        ("१०", False),
        ("1e3", False),
    ],
)
def test_amounts_are_ascii_digits_only(text, expected):
    assert is_ascii_amount(text) is expected


@pytest.mark.parametrize("name", ["\x00", "a\x1bb", "a\x85", "a\u202eb", "a\nb"])
def test_names_refuse_control_characters(name):
    assert has_control_characters(name)


def test_ordinary_names_pass():
    assert not has_control_characters("Zoë O'Brien-Łukasz 李")


def test_admin_reason_keeps_line_breaks_but_refuses_other_controls():
    assert ReasonForm(data={"reason": "first line\nsecond line"}).is_valid()
    assert not ReasonForm(data={"reason": "bell\x07"}).is_valid()

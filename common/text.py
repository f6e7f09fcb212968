"""What free text and amounts may contain.

Python's ``Decimal`` and ``int`` read any Unicode digit (``"١٠"``, ``"１０.００"``),
so an amount is checked as ASCII text before it is ever converted. Names and other
free text refuse control characters (NUL above all: PostgreSQL cannot store it).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi
# overrides that make a name display as something else.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def is_ascii_amount(value: str) -> bool:
    return AMOUNT_TEXT.fullmatch(value.strip()) is not None


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def reject_control_characters(value: str) -> None:
    """A Django/DRF field validator for names and other one-line free text."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            "Control characters are not allowed.", code="control_characters"
        )


_CONTROL_MULTILINE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def reject_control_characters_multiline(value: str) -> None:
    """For multi-line free text (reasons, notes): tabs and line breaks allowed."""
    if isinstance(value, str) and _CONTROL_MULTILINE.search(value):
        raise ValidationError(
            "Control characters are not allowed.", code="control_characters"
        )

"""Strip secrets and personal payment data before anything is stored in the audit trail.

Two nets: field names that say "secret" (key, token, password, iban, card number, ...)
and values that look like one (card numbers passing Luhn, IBANs, PSP secret keys,
webhook secrets, bearer tokens), at any depth of nested dicts and lists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private|hmac|signature|credential|"
    r"authorization|cookie|session|iban|account[_-]?number|card[_-]?number|^pan$|cvv|cvc|"
    r"security[_-]?code|expiry|encrypted|payout[_-]?destination|bank[_-]?account)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"^(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}$|^whsec_[A-Za-z0-9+/=]{8,}$|"
    r"^AQE[A-Za-z0-9+/=_-]{20,}$|^Bearer\s+\S+$|^Basic\s+\S+$",
)
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$")
_DIGITS = re.compile(r"[\s-]")


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def looks_secret(value: str) -> bool:
    stripped = value.strip()
    if _SECRET_VALUE.match(stripped) or _IBAN.match(stripped.upper().replace(" ", "")):
        return True
    digits = _DIGITS.sub("", stripped)
    return digits.isdigit() and 12 <= len(digits) <= 19 and _luhn_ok(digits)


def redact(data: Any, *, key: str | None = None) -> Any:
    if key is not None and _SECRET_NAME.search(key) and data not in (None, "", {}, []):
        return REDACTED
    if isinstance(data, Mapping):
        return {str(k): redact(v, key=str(k)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact(item) for item in data]
    if isinstance(data, str) and looks_secret(data):
        return REDACTED
    return data

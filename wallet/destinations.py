"""Payout destinations: validated, normalised, encrypted at rest and shown masked.

Only bank transfers to an IBAN exist today (the ``manual`` provider). The plaintext
leaves this module only towards the payout provider; logs and audit see the mask.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from common.crypto import encrypt_json
from common.text import has_control_characters
from wallet.exceptions import InvalidPayoutDestination

_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def _iban_checksum_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def destination_normalize(destination: Mapping[str, Any]) -> dict[str, str]:
    """``{"type": "iban", "iban": "de89 3704 ...", "holder_name": "Ann"}`` →
    the canonical dict. Raises ``InvalidPayoutDestination`` (the value is not echoed)."""
    if not isinstance(destination, Mapping):
        raise InvalidPayoutDestination(details={"fields": {"destination": ["object"]}})
    kind = str(destination.get("type", "iban")).lower()
    if kind != "iban":
        raise InvalidPayoutDestination(
            "Only IBAN bank transfers are supported.",
            details={"fields": {"type": ["must be 'iban'"]}},
        )
    iban = re.sub(r"\s+", "", str(destination.get("iban", ""))).upper()
    if not _IBAN.match(iban) or not _iban_checksum_ok(iban):
        raise InvalidPayoutDestination(
            "The IBAN is not valid.", details={"fields": {"iban": ["invalid"]}}
        )
    holder = str(destination.get("holder_name", "")).strip()
    if not holder or len(holder) > 140 or has_control_characters(holder):
        raise InvalidPayoutDestination(
            "The account holder's name is required.",
            details={
                "fields": {
                    "holder_name": [
                        "required, at most 140 characters, no control characters"
                    ]
                }
            },
        )
    return {"type": "iban", "iban": iban, "holder_name": holder}


def destination_mask(destination: Mapping[str, str]) -> str:
    """``DE89370400440532013000`` → ``DE89 •••• 3000``."""
    iban = destination["iban"]
    return f"{iban[:4]} •••• {iban[-4:]}"


def destination_encrypt(destination: Mapping[str, str]) -> str:
    return encrypt_json(dict(destination))

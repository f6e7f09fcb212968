"""The audit trail's hash chain: the canonical form of an event and its digest.

Every tenant's events form one chain (events without a tenant, platform-level actions,
form their own). Event number ``seq`` of a chain stores the hash of event ``seq - 1``
(``prev_hash``; the first event, or the first after a retention checkpoint, stores
``GENESIS_HASH`` or the checkpoint's hash) and its own ``hash``::

    hash = sha256_hex(canonical_form(event, seq, prev_hash))

The canonical form is a JSON array in the canonical JSON described below, encoded as
UTF-8, of exactly these values in this order::

    ["audit-v1", tenant_id, seq, prev_hash, created_at, actor_type, actor_user_id,
     actor_label, action, target_type, target_id, before, after, reason, request_id,
     ip]

- ``tenant_id`` and ``actor_user_id``: integers or ``null``; ``seq``: integer.
- ``created_at``: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fraction digits).
- ``ip``: the address as PostgreSQL's ``inet`` text writes it, with its prefix length
  (``10.1.0.5/32``), or ``null``.
- text fields: JSON strings (empty string when blank).
- ``before``/``after``: the stored JSON value, ``null`` when absent.

Canonical JSON: no whitespace; object keys sorted by code point; strings escape only
``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and other characters below U+0020 (as ``\\u00xx``,
lower-case hex), everything else as is (UTF-8); ``true``/``false``/``null``; a number
with an integral value is written as its integer digits (``100000.0`` -> ``100000``),
any other number in plain decimal notation without exponent or trailing zeros
(``1e-05`` -> ``0.00001``).

On PostgreSQL the database computes the same thing in PL/pgSQL (``audit/sql.py``,
``audit_canonical_json`` and the sealer ``audit_chain_seal``, which links committed
events after their commit), so the ledger's posting function, raw SQL and the ORM are
all chained the same way; on SQLite ``audit.services`` links events in Python with
this module at insert. The verifier (``audit.verification.audit_chain_verify``) always recomputes hashes here, in Python,
independently of the database; tests/audit/chain/test_canonical_form.py checks that
both implementations agree on awkward values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

VERSION = "audit-v1"
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """``value`` (as decoded from the stored JSON) in canonical JSON."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _canonical_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda pair: str(pair[0]))
        return (
            "{"
            + ",".join(
                json.dumps(str(key), ensure_ascii=False) + ":" + canonical_json(item)
                for key, item in items
            )
            + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _canonical_number(value: float) -> str:
    number = Decimal(repr(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number, "f").rstrip("0")


def canonical_timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_ip(value: str | None) -> str | None:
    """The address as PostgreSQL's ``inet`` text writes it, prefix length included
    (``10.1.0.5/32``, ``2001:db8::1/128``): what the database's sealer hashes. Django
    reads the column back without it (``10.1.0.5``)."""
    if value is None or value == "":
        return None
    address = ipaddress.ip_address(value)
    if address.version == 4:
        return f"{address}/32"
    # PostgreSQL writes an IPv4-mapped or IPv4-compatible address's last 32 bits
    # as dotted decimal (::ffff:10.0.0.1, ::10.0.0.1); Python writes hex words.
    number = int(address)
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}/128"
    if number >> 32 == 0 and number >> 16 & 0xFFFF:
        return f"::{ipaddress.IPv4Address(number & 0xFFFFFFFF)}/128"
    return f"{address}/128"


@dataclass(frozen=True, slots=True)
class ChainFields:
    """The hashed fields of one event, as stored."""

    tenant_id: int | None
    created_at: dt.datetime
    actor_type: str
    actor_user_id: int | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    before: Any
    after: Any
    reason: str
    request_id: str
    ip: str | None

    #: The model fields, in this order, that a verifier reads.
    NAMES = (
        "tenant_id",
        "created_at",
        "actor_type",
        "actor_user_id",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
        "reason",
        "request_id",
        "ip",
    )


def canonical_form(fields: ChainFields, *, seq: int, prev_hash: str) -> str:
    parts = [
        canonical_json(VERSION),
        canonical_json(fields.tenant_id),
        canonical_json(seq),
        canonical_json(prev_hash),
        canonical_json(canonical_timestamp(fields.created_at)),
        canonical_json(fields.actor_type),
        canonical_json(fields.actor_user_id),
        canonical_json(fields.actor_label),
        canonical_json(fields.action),
        canonical_json(fields.target_type),
        canonical_json(fields.target_id),
        canonical_json(fields.before),
        canonical_json(fields.after),
        canonical_json(fields.reason),
        canonical_json(fields.request_id),
        canonical_json(canonical_ip(fields.ip)),
    ]
    return "[" + ",".join(parts) + "]"


def event_digest(fields: ChainFields, *, seq: int, prev_hash: str) -> str:
    form = canonical_form(fields, seq=seq, prev_hash=prev_hash)
    return hashlib.sha256(form.encode("utf-8")).hexdigest()

"""Export of one tenant's audit trail, for a regulator's request.

Streamed (a server-side cursor feeding a generator of lines), so memory stays
constant whatever the size. Each row carries its chain fields (``seq``, ``prev_hash``,
``hash``), so the recipient can check the export against ``audit_verify``'s head.
``before``/``after`` were redacted when stored and pass through the redaction again
here, in case a rule was added since. Starting an export is itself an audit event
(``audit.exported``), recorded before the first row leaves.

JSON lines are the faithful format (one JSON object per line, the stored values).
CSV writes ``before``/``after`` as canonical JSON text and, so that a spreadsheet
never runs a cell as a formula, prefixes a cell starting with ``= + - @`` (or tab /
carriage return) with an apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import F

from audit import chain
from audit.models import AuditEvent
from audit.redaction import redact
from audit.sealing import audit_chain_seal
from audit.services import audit_record
from common.actors import Actor

FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    "created_at",
    "tenant_id",
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
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def audit_export_start(
    *,
    actor: Actor,
    tenant_id: int,
    fmt: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> AuditEvent:
    """Record that an export of ``tenant_id``'s trail begins (caller commits it
    before streaming)."""
    return audit_record(
        actor=actor,
        action="audit.exported",
        tenant_id=tenant_id,
        target_type="tenants.Tenant",
        target_id=tenant_id,
        after={
            "format": fmt,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
    )


def audit_export_rows(
    *,
    tenant_id: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The tenant's events in chain order (``since`` inclusive, ``until``
    exclusive), streamed. Seals what is pending first (the export's own event
    included), so the file holds the chain up to now."""
    audit_chain_seal(tenant_id=tenant_id)
    events = AuditEvent.objects.filter(tenant_id=tenant_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    # Sealed events in chain order, then the few not sealed yet (seq NULL) by id.
    rows = events.order_by(F("seq").asc(nulls_last=True), "id").values_list(*COLUMNS)
    for values in rows.iterator(chunk_size=2000):
        row = dict(zip(COLUMNS, values, strict=True))
        row["created_at"] = chain.canonical_timestamp(row["created_at"])
        row["before"] = redact(row["before"]) if row["before"] is not None else None
        row["after"] = redact(row["after"]) if row["after"] is not None else None
        yield row


def audit_export_lines(rows: Iterator[dict[str, Any]], *, fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(name, row[name]) for name in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _csv_cell(name: str, value: Any) -> str:
    if name in ("before", "after"):
        return "" if value is None else chain.canonical_json(value)
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text

"""Import one PSP settlement file: hash it, refuse a second import of the same bytes,
stream and match its rows, record findings, book the fees it confirms.

Constant memory: the file is read twice as a stream (hash, then rows), rows are
matched in chunks, and the payment references seen are staged in a temporary table
so that "completed here, absent at the PSP" is one anti-join in the database rather
than a set in Python. Each chunk's findings commit on their own (a crash half-way
leaves an import marked failed; importing the file again repeats no finding and no
posting, both being idempotent).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import IO

from django.db import connection, transaction
from django.db.utils import IntegrityError

from common import clock
from common.actors import Actor
from common.errors import ApplicationError, IdempotencyKeyReuseConflict
from payments.providers.settlement_formats import settlement_parser_for
from reconciliation.models import SettlementImport
from reconciliation.settlement.matching import Matcher
from wallet.finding_codes import severity_of
from wallet.models import Deposit
from wallet.services import FindingSpec, findings_record_bulk, psp_fee_post

CHUNK_ROWS = 2_000
READ_BYTES = 1 << 20
SOURCE = "reconcile_psp"
# Completed deposits of the period that the file's payment references (staged in a
# temporary table, one per connection) do not list.
MISSING_AT_PSP = """
    SELECT d.id, d.payment_reference, d.amount_minor, d.currency
      FROM wallet_deposit d
     WHERE d.tenant_id = %s AND d.provider = %s AND d.state = %s
       AND d.completed_at >= %s AND d.completed_at <= %s
       AND NOT EXISTS (SELECT 1 FROM reconciliation_seen_payment s
                        WHERE s.ref = d.payment_reference)
     ORDER BY d.id
"""


@dataclass(frozen=True, slots=True)
class ImportResult:
    settlement_import: SettlementImport
    duplicate: bool


def file_sha256(stream: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    while block := stream.read(READ_BYTES):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


class _Counting(io.RawIOBase):
    """Reports bytes read, for a progress bar over the file's size."""

    def __init__(self, stream: IO[bytes], progress: Callable[[int], None] | None):
        self.stream, self.progress = stream, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        if self.progress and data:
            self.progress(len(data))
        return len(data)


def _seen_table_reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS reconciliation_seen_payment")
        cursor.execute(
            "CREATE TEMP TABLE reconciliation_seen_payment (ref varchar(255))"
        )


def _seen_add(refs: list[str]) -> None:
    if not refs:
        return
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                "COPY reconciliation_seen_payment (ref) FROM STDIN"
            ) as copy,
        ):
            for ref in refs:
                copy.write_row((ref,))
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO reconciliation_seen_payment (ref) VALUES (%s)",
            [(r,) for r in refs],
        )


def _missing_at_psp(matcher: Matcher) -> list[FindingSpec]:
    """Deposits completed here, through this PSP, within the period the file's
    payments cover, that the file does not list."""
    if matcher.first_payment_at is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS reconciliation_seen_payment_ref"
            " ON reconciliation_seen_payment (ref)"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            MISSING_AT_PSP,
            [
                matcher.tenant_id,
                matcher.provider,
                Deposit.State.COMPLETED,
                matcher.first_payment_at,
                matcher.last_payment_at,
            ],
        )
        deposits = cursor.fetchall()
    return [
        FindingSpec(
            tenant_id=matcher.tenant_id,
            code="missing_at_psp",
            severity=severity_of("missing_at_psp"),
            object_type="deposit",
            object_ref=str(pk),
            details={
                "provider": matcher.provider,
                "payment_reference": reference,
                "amount_minor": amount,
                "currency": currency,
                "period": [
                    matcher.first_payment_at.isoformat(),
                    matcher.last_payment_at.isoformat(),
                ],
            },
        )
        for pk, reference, amount, currency in deposits
    ]


def _fees_post(*, matcher: Matcher, actor: Actor, file_hash: str) -> tuple[dict, list]:
    """One posting per batch and currency the file confirms fees for."""
    posted: dict[str, int] = {}
    found: list[FindingSpec] = []
    for (currency, batch), amount in sorted(matcher.batch_fees.items()):
        if amount == 0:
            continue
        batch_key = batch or f"file:{file_hash[:16]}"
        key = f"psp-fee:{matcher.provider}:{batch_key}:{currency}"
        try:
            with transaction.atomic(durable=True):
                psp_fee_post(
                    tenant_id=matcher.tenant_id,
                    provider=matcher.provider,
                    currency=currency,
                    amount_minor=amount,
                    idempotency_key=key,
                    reference=f"{matcher.provider} batch {batch_key}",
                    actor=actor,
                )
        except IdempotencyKeyReuseConflict:
            # Fees for this batch were booked before with another amount.
            found.append(
                FindingSpec(
                    tenant_id=matcher.tenant_id,
                    code="fee_mismatch",
                    severity=severity_of("fee_mismatch"),
                    object_type="psp_batch",
                    object_ref=f"{matcher.provider}:{batch_key}:{currency}",
                    details={
                        "provider": matcher.provider,
                        "batch": batch_key,
                        "currency": currency,
                        "reported_minor": amount,
                        "idempotency_key": key,
                    },
                )
            )
            continue
        posted[currency] = posted.get(currency, 0) + amount
    return posted, found


def settlement_import(
    *,
    tenant_id: int,
    provider: str,
    stream: IO[bytes],
    file_name: str,
    actor: Actor,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a settlement file (binary stream, seekable). Opens its own
    transactions: call it with none open. Raises ``SettlementFileInvalid`` for a
    file that is not the PSP's format (the import is then recorded as failed)."""
    parse = settlement_parser_for(provider)
    sha, size = file_sha256(stream)
    started = time.monotonic()
    try:
        with transaction.atomic(durable=True):
            record = SettlementImport.objects.create(
                tenant_id=tenant_id,
                provider=provider,
                file_name=file_name[:255],
                file_sha256=sha,
                file_bytes=size,
                imported_by=actor.label,
                started_at=clock.now(),
            )
    except IntegrityError:
        first = SettlementImport.objects.filter(
            tenant_id=tenant_id,
            provider=provider,
            file_sha256=sha,
            status__in=[
                SettlementImport.Status.RUNNING,
                SettlementImport.Status.COMPLETED,
            ],
        ).first()
        with transaction.atomic(durable=True):
            record = SettlementImport.objects.create(
                tenant_id=tenant_id,
                provider=provider,
                file_name=file_name[:255],
                file_sha256=sha,
                file_bytes=size,
                imported_by=actor.label,
                started_at=clock.now(),
                finished_at=clock.now(),
                duration_ms=0,
                status=SettlementImport.Status.DUPLICATE,
                summary={"duplicate_of": first.pk if first else None},
            )
        return ImportResult(record, duplicate=True)

    matcher = Matcher(tenant_id=tenant_id, provider=provider)
    new = again = 0
    try:
        _seen_table_reset()
        text = io.TextIOWrapper(
            io.BufferedReader(_Counting(stream, progress), READ_BYTES),
            encoding="utf-8-sig",
            newline="",
        )
        rows = parse(text)
        while chunk := list(islice(rows, CHUNK_ROWS)):
            specs = matcher.match(chunk)
            _seen_add([r.payment_reference for r in chunk if r.payment_reference])
            if specs:
                with transaction.atomic(durable=True):
                    n, a = findings_record_bulk(specs=specs, source=SOURCE)
                new, again = new + n, again + a
        tail = matcher.batch_findings() + _missing_at_psp(matcher)
        posted, fee_findings = _fees_post(
            matcher=matcher, actor=Actor.system(SOURCE), file_hash=sha
        )
        tail += fee_findings
        if tail:
            with transaction.atomic(durable=True):
                n, a = findings_record_bulk(specs=tail, source=SOURCE)
            new, again = new + n, again + a
    except ApplicationError as error:
        _finish(
            record,
            started,
            SettlementImport.Status.FAILED,
            matcher,
            new,
            again,
            error=f"{error.code}: {error.message} {error.details}",
        )
        raise
    except Exception as error:
        _finish(
            record,
            started,
            SettlementImport.Status.FAILED,
            matcher,
            new,
            again,
            error=repr(error)[:1000],
        )
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS reconciliation_seen_payment")
    _finish(
        record,
        started,
        SettlementImport.Status.COMPLETED,
        matcher,
        new,
        again,
        summary={
            "fees_reported_minor": dict(matcher.fees),
            "fees_posted_minor": posted,
            "batches": len(matcher.batches),
        },
    )
    return ImportResult(record, duplicate=False)


def _finish(record, started, status, matcher, new, again, *, error="", summary=None):
    record.status = status
    record.rows = matcher.rows
    record.findings_new = new
    record.findings_seen_again = again
    record.error = error
    record.summary = summary or record.summary
    record.finished_at = clock.now()
    record.duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic(durable=True):
        record.save()

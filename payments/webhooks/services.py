"""The webhook inbox: receive, verify, store, claim, enqueue, apply, reprocess, prune.

A delivery is stored raw before anything else, then verified on its raw bytes by
the endpoint's provider, which turns each notification into a business event
(``payments.events``). Each event is claimed once per endpoint (the inbox row's
``(config, event_id)`` is unique) and applied in one transaction by the flow it
belongs to: ``payments.deposits.events`` (deposits, refunds, disputes) or
``payments.withdrawals.events`` (payouts). Nothing here reads a vendor payload.

``webhook_receive`` is an orchestrator: it opens its own short transactions. It
verifies first, stores the verified delivery once with its claimed event id and
enqueues its application (``payments.webhook_apply_batch``, issue 9), so the PSP is
acknowledged fast; the row is the outbox (``payments.outbox``). Each step after
storing is re-drivable from the inbox row alone
(``webhook_delivery_apply(delivery_id=...)``), for a worker or an operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count, F
from django.utils import timezone
from psycopg.types.json import Jsonb

from audit.services import audit_record
from common.actors import Actor
from common.errors import MalformedRequest
from common.prepared import prepared_fetchone
from common.queue import task_enqueue_batched
from payments import events
from payments.deposits.events import deposit_event_apply
from payments.events import Applied, RejectedItem, WebhookEvent
from payments.exceptions import (
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
    WebhookNotReprocessable,
    WebhookPayloadInvalid,
    WebhookProcessingFailed,
    WebhookSignatureInvalid,
)
from payments.models import PSPConfig, WebhookInbox
from payments.providers.registry import provider_build
from payments.withdrawals.events import PAYOUT_EVENTS, payout_event_apply

logger = logging.getLogger(__name__)

Status = WebhookInbox.Status

# Headers worth keeping with a raw delivery (never cookies or credentials: Adyen's
# basic-auth Authorization header is not kept).
_KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "stripe-signature",
    "content-length",
    "hmacsignature",
)
# Refusals of a delivery whose signature did not vouch for it: kept as rejected,
# nothing applied.
_WEBHOOK_REFUSALS = (
    WebhookSignatureInvalid,
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
    MalformedRequest,
)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    inbox: WebhookInbox
    duplicate: bool


def webhook_receive(
    *,
    config: PSPConfig,
    body: bytes,
    headers: Mapping[str, str],
    store_rejected: Callable[[], bool] = lambda: True,
) -> WebhookResult:
    """Verify the delivery's signature on the raw bytes, store it once with its
    claimed event id for this endpoint, and enqueue its application
    (``payments.webhook_apply_batch``): one commit for the common case, so the PSP is
    acknowledged fast. A repeat of an event is stored as a duplicate and moves
    nothing.

    Raises a signature refusal (400/401/403: kept as rejected unless
    ``store_rejected()`` says not to, nothing applied) or ``WebhookPayloadInvalid``
    (400: verified but unreadable; kept as failed, reprocessable)."""
    kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
    raw = {
        "provider": config.provider,
        "config": config,
        "tenant_id": config.tenant_id,
        "headers": kept,
        "body": body.decode("utf-8", errors="replace"),
    }
    provider = provider_build(name=config.provider, config=config)
    try:
        parsed = provider.verify_and_parse_webhook(body=body, headers=headers)
    except _WEBHOOK_REFUSALS as exc:
        inbox_id = None
        if store_rejected():
            with transaction.atomic(durable=True):
                inbox_id = WebhookInbox.objects.create(
                    **raw, status=Status.REJECTED, error=_error_text(exc)
                ).pk
        logger.warning(
            "webhook.rejected",
            extra={"inbox_id": inbox_id, "code": exc.code, **exc.details},
        )
        raise
    except WebhookPayloadInvalid as exc:
        # The signature vouched for it: keep it for an operator to reprocess.
        with transaction.atomic(durable=True):
            inbox = WebhookInbox.objects.create(
                **raw, status=Status.FAILED, error=_error_text(exc)
            )
        logger.warning(
            "webhook.unreadable", extra={"inbox_id": inbox.pk, **exc.details}
        )
        raise
    if len(parsed) == 1 and isinstance(parsed[0], WebhookEvent):
        event = parsed[0]
        try:
            inbox = _inbox_insert(
                **raw, event_id=event.event_id, event_type=event.event_type[:100]
            )
        except IntegrityError:  # a repeat: kept as a duplicate of the first
            with transaction.atomic(durable=True):
                inbox = WebhookInbox.objects.create(**raw)
            return _webhook_claim_and_enqueue(config=config, inbox=inbox, event=event)
        _application_enqueue(inbox_id=inbox.pk)
        return WebhookResult(inbox=inbox, duplicate=False)
    with transaction.atomic(durable=True):
        inbox = WebhookInbox.objects.create(**raw)
    return _webhook_batch_split(config=config, inbox=inbox, parsed=parsed)


def _application_enqueue(*, inbox_id: int) -> None:
    """Nudge a worker to apply the delivery: handed to the process's publisher,
    which sends the deliveries stored within a few milliseconds as one
    ``payments.webhook_apply_batch`` (common.queue), so the PSP's request never
    waits on the broker."""
    task_enqueue_batched(
        "payments.webhook_apply_batch", argument="inbox_ids", value=inbox_id
    )


def _inbox_insert(**fields) -> WebhookInbox:
    """The hot path's one write: a single INSERT is its own transaction in
    autocommit (one round trip, where BEGIN/INSERT/COMMIT takes three); inside an
    outer transaction (tests) it takes a savepoint so a duplicate's IntegrityError
    leaves the outer one usable. On PostgreSQL it is a prepared statement
    (``common.prepared``): the ORM's compile and the server's parse and plan were a
    sixth of a delivery's cost."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql":
        insert = WebhookInbox.objects.create
    else:
        insert = _inbox_insert_prepared
    if not wrapper.in_atomic_block:
        return insert(**fields)
    with transaction.atomic():
        return insert(**fields)


_INBOX_COLUMNS = (
    "provider",
    "config_id",
    "tenant_id",
    "headers",
    "body",
    "event_id",
    "event_type",
    "status",
    "error",
    "attempts",
    "received_at",
)
# Built once from the model's own table and column names, no outside text in it.
_INBOX_INSERT = (
    f"INSERT INTO {WebhookInbox._meta.db_table} ({', '.join(_INBOX_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_INBOX_COLUMNS))}) RETURNING id"
)


def _inbox_insert_prepared(
    *,
    provider: str,
    config: PSPConfig,
    tenant_id: int,
    headers: dict,
    body: str,
    event_id: str,
    event_type: str,
) -> WebhookInbox:
    row = WebhookInbox(
        provider=provider,
        config=config,
        tenant_id=tenant_id,
        headers=headers,
        body=body,
        event_id=event_id,
        event_type=event_type,
        received_at=timezone.now(),
    )
    (row.pk,) = prepared_fetchone(
        connections[DEFAULT_DB_ALIAS],
        _INBOX_INSERT,
        (
            row.provider,
            config.pk,
            tenant_id,
            Jsonb(headers),
            body,
            event_id,
            event_type,
            row.status,
            row.error,
            row.attempts,
            row.received_at,
        ),
        prepare=not settings.DATABASE_PGBOUNCER,
    )
    row._state.adding = False
    row._state.db = DEFAULT_DB_ALIAS
    return row


def _error_text(exc) -> str:
    reason = exc.details.get("reason", "") or exc.message
    return f"{exc.code}: {reason}"[:2000]


def _webhook_batch_split(
    *,
    config: PSPConfig,
    inbox: WebhookInbox,
    parsed: list[WebhookEvent | RejectedItem],
) -> WebhookResult:
    """A verified batch (Adyen may send several items in one delivery): each item
    becomes a delivery row of its own, holding that item alone, so each is
    deduplicated, applied and reprocessed on its own. An item that failed
    verification is kept as a rejected row (reprocessable once the key is fixed).
    The raw row stays as the record of what arrived. Each verified item is claimed
    and its application enqueued (``payments.webhook_apply``); one that fails is
    retried by the task, the sweep or the admin's reprocess."""
    results, split_ids = [], []
    for item in parsed:
        rejected = isinstance(item, RejectedItem)
        with transaction.atomic(durable=True):
            item_inbox = WebhookInbox.objects.create(
                provider=config.provider,
                config=config,
                tenant_id=config.tenant_id,
                headers={"x-split-from-delivery": str(inbox.pk)},
                body=item.stored_body,
                status=Status.REJECTED if rejected else Status.RECEIVED,
                error=f"{item.code}: {item.reason}" if rejected else "",
            )
        split_ids.append(item_inbox.pk)
        if rejected:
            continue
        results.append(
            _webhook_claim_and_enqueue(config=config, inbox=item_inbox, event=item)
        )
    WebhookInbox.objects.filter(pk=inbox.pk).update(
        status=Status.IGNORED,
        event_type="batch",
        error="batch split into deliveries " + ", ".join(f"#{pk}" for pk in split_ids),
        processed_at=timezone.now(),
    )
    return WebhookResult(
        inbox=results[-1].inbox, duplicate=all(result.duplicate for result in results)
    )


def _webhook_claim_and_enqueue(
    *, config: PSPConfig, inbox: WebhookInbox, event: WebhookEvent
) -> WebhookResult:
    """Claim the event id for this endpoint, then enqueue its application.
    Acknowledge fast: the application runs on a worker (payments.tasks). The claim
    has committed; the row, verified and claimed, is the outbox the sweep re-drives
    if this message is lost."""
    target = _webhook_claim(config=config, inbox=inbox, event=event)
    _application_enqueue(inbox_id=target.pk)
    return WebhookResult(inbox=target, duplicate=target.pk != inbox.pk)


def _webhook_claim(
    *, config: PSPConfig, inbox: WebhookInbox, event: WebhookEvent
) -> WebhookInbox:
    """Claim the event id for this endpoint; the row that carries it. Deduplication
    is per endpoint (config): one PSP account can serve several brands, each with
    its own endpoint, and each must see every event once."""
    inbox.event_type = event.event_type[:100]
    target = inbox
    try:
        with transaction.atomic(durable=True):
            inbox.event_id = event.event_id
            inbox.save(update_fields=["event_id", "event_type"])
    except IntegrityError:
        # Another delivery of this event to this endpoint claimed it first.
        inbox.event_id = ""
        target = WebhookInbox.objects.get(config=config, event_id=event.event_id)
        WebhookInbox.objects.filter(pk=inbox.pk).update(
            status=Status.DUPLICATE, duplicate_of=target, event_type=inbox.event_type
        )
    return target


def webhook_delivery_apply(
    *, delivery_id: int, event: WebhookEvent | None = None
) -> WebhookInbox:
    """Apply a verified, claimed delivery once. Re-drivable from the row alone (a
    worker or the admin passes only ``delivery_id``; the stored item is parsed
    again). Locks the inbox row only (never the brand's PSP configuration, which
    would queue every delivery of the brand behind each other), so concurrent
    deliveries of one event serialise and the second finds it processed. Opens its
    own transaction; on failure the row is marked failed and
    ``WebhookProcessingFailed`` is raised."""
    try:
        with transaction.atomic(durable=True):
            inbox = WebhookInbox.objects.select_for_update(no_key=True).get(
                pk=delivery_id
            )
            if inbox.status in (Status.PROCESSED, Status.IGNORED):
                return inbox
            config = PSPConfig.objects.select_related("tenant").get(pk=inbox.config_id)
            if event is None:
                provider = provider_build(name=config.provider, config=config)
                (event,) = provider.parse_verified_webhook(body=inbox.body.encode())
            applied = webhook_event_apply(config=config, event=event.event)
            inbox.status = (
                Status.PROCESSED
                if applied.deposit_id or applied.handled
                else Status.IGNORED
            )
            inbox.deposit_id = applied.deposit_id
            inbox.error = applied.note
            inbox.attempts += 1
            inbox.processed_at = timezone.now()
            inbox.save()
            return inbox
    except Exception as exc:
        logger.exception("webhook.processing_failed", extra={"inbox_id": delivery_id})
        WebhookInbox.objects.filter(pk=delivery_id).update(
            status=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1,
        )
        raise WebhookProcessingFailed(details={"inbox_id": delivery_id}) from exc


def webhook_event_apply(*, config: PSPConfig, event: events.BusinessEvent) -> Applied:
    """Hand one business event to the flow it belongs to, for the endpoint's brand."""
    ids = {"tenant_id": config.tenant_id, "provider": config.provider}
    if isinstance(event, PAYOUT_EVENTS):
        return payout_event_apply(**ids, event=event)
    return deposit_event_apply(**ids, event=event)


def webhook_reprocess(*, inbox: WebhookInbox, actor: Actor) -> WebhookInbox:
    """Operator's retry of a delivery that was never applied (applied here, not
    on a worker: the operator sees the outcome):

    - failed after its event was claimed, or dead-lettered after the task's
      retries (``status=dead``): applied again;
    - verified but unreadable (failed, no event id), e.g. after a parser fix:
      parsed again, claimed and applied;
    - one item of a batch rejected for its signature (the key was wrong): verified
      again from the stored item (providers that sign inside the body only), then
      claimed and applied.

    Duplicates are refused (another row carries the event), and so are deliveries
    whose signature cannot be checked again."""
    reprocessable = inbox.status in (Status.FAILED, Status.RECEIVED, Status.DEAD) or (
        inbox.status == Status.REJECTED and not inbox.event_id
    )
    if not reprocessable:
        raise WebhookNotReprocessable(
            details={"inbox_id": inbox.pk, "status": inbox.status}
        )
    config = inbox.config
    provider = provider_build(name=config.provider, config=config)
    if inbox.status == Status.REJECTED:
        try:
            parsed = provider.verify_stored_webhook(body=inbox.body.encode())
        except (*_WEBHOOK_REFUSALS, WebhookPayloadInvalid) as exc:
            raise WebhookNotReprocessable(
                details={"inbox_id": inbox.pk, "status": inbox.status, "code": exc.code}
            ) from exc
    elif not inbox.event_id:
        parsed = provider.parse_verified_webhook(body=inbox.body.encode())
    else:
        parsed = None
    audit_record(
        actor=actor,
        action="webhook.reprocessed",
        tenant_id=inbox.tenant_id,
        target=inbox,
        before={"status": inbox.status},
    )
    if parsed is None:
        return webhook_delivery_apply(delivery_id=inbox.pk)
    if len(parsed) != 1:
        raise WebhookNotReprocessable(
            details={"inbox_id": inbox.pk, "reason": "holds several items"}
        )
    WebhookInbox.objects.filter(pk=inbox.pk).update(status=Status.RECEIVED, error="")
    inbox.status = Status.RECEIVED
    target = _webhook_claim(config=config, inbox=inbox, event=parsed[0])
    return webhook_delivery_apply(delivery_id=target.pk, event=parsed[0])


def webhook_inbox_prune(
    *,
    received_before: datetime,
    actor: Actor,
    tenant_id: int | None = None,
    dry_run: bool = False,
) -> dict[int, int]:
    """Delete deliveries rejected for their signature and received before the
    cut-off; ``{tenant_id: count}``. Anyone who knows an endpoint URL can make us
    store rejected deliveries, so they must not pile up for ever. Verified deliveries
    (processed, ignored, failed, duplicate) are the record of what the PSP told us and
    are never pruned. One audit event per tenant pruned."""
    rejected = WebhookInbox.objects.filter(
        status=WebhookInbox.Status.REJECTED, received_at__lt=received_before
    )
    if tenant_id is not None:
        rejected = rejected.filter(tenant_id=tenant_id)
    counts = {
        row["tenant_id"]: row["count"]
        for row in rejected.values("tenant_id").annotate(count=Count("id"))
    }
    if dry_run or not counts:
        return counts
    with transaction.atomic(savepoint=False):
        rejected.delete()
        for pruned_tenant_id, count in counts.items():
            audit_record(
                actor=actor,
                action="webhook_inbox.pruned",
                tenant_id=pruned_tenant_id,
                target_type="payments.WebhookInbox",
                after={
                    "deleted": count,
                    "received_before": received_before.isoformat(),
                },
                reason="rejected deliveries past retention",
            )
    return counts

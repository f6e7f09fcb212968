"""Payments orchestration: deposits through a PSP and the PSP's notifications.

Money never moves here directly: the deposit record and every posting belong to the
wallet (``wallet.services.deposit_*``). This module picks the brand's PSP config,
calls the provider outside any row lock, and applies verified webhook events through
the wallet services.

``deposit_start`` and ``webhook_receive`` are orchestrators, like tasks: each opens
its own short transactions (``atomic(durable=True)``) because a PSP call or a raw
delivery record must sit between or before them. Call them outside any transaction.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from audit.services import audit_record
from casino.exceptions import PlayerBlocked
from casino.models import Player
from common.actors import Actor
from common.currency import exponent_of
from common.errors import MalformedRequest
from common.queue import task_enqueue
from payments.budget import psp_time_budget
from payments.exceptions import (
    DepositCheckoutPending,
    DepositCurrencyNotAllowed,
    ProviderError,
    ProviderUnavailable,
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
    WebhookNotReprocessable,
    WebhookPayloadInvalid,
    WebhookProcessingFailed,
    WebhookSignatureInvalid,
)
from payments.models import PaymentRoute, PSPConfig, WebhookInbox
from payments.providers.adyen.provider import (
    SIMULATOR_API_KEY_PREFIX as ADYEN_SIMULATOR_API_KEY_PREFIX,
)
from payments.providers.base import CheckoutRequest, WebhookEvent
from payments.providers.registry import provider_build
from payments.providers.stripe.mapping import SUPPORTED_EVENTS, payment_intent_of
from payments.providers.stripe.provider import SIMULATOR_KEY_PREFIX, simulator_enabled
from payments.selectors import payment_route_get, psp_config_for_deposit
from tenants.exceptions import ModuleTemporarilyDisabled
from tenants.models import Tenant
from tenants.services import tenant_policy_get
from wallet import services as wallet
from wallet.models import Deposit

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
# Refusals of a delivery: kept as rejected, nothing applied.
_WEBHOOK_REFUSALS = (
    WebhookSignatureInvalid,
    WebhookPayloadInvalid,
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
    MalformedRequest,
)


# --- configuration ---------------------------------------------------------------


def psp_config_save(
    *,
    actor: Actor,
    config: PSPConfig,
    secret_key: str = "",
    webhook_secret: str = "",
    hmac_key: str = "",
    webhook_password: str = "",
    balance_platform_hmac_key: str = "",
    created: bool,
) -> PSPConfig:
    """Save a config, replacing a secret only when a new one is given. The audit
    record says which secrets changed, never their values."""
    with transaction.atomic(savepoint=False):
        if secret_key:
            config.set_secret_key(secret_key)
        if webhook_secret:
            config.set_webhook_secret(webhook_secret)
        if hmac_key:
            config.set_hmac_key(hmac_key)
        if webhook_password:
            config.set_webhook_password(webhook_password)
        if balance_platform_hmac_key:
            config.set_balance_platform_hmac_key(balance_platform_hmac_key)
        config.full_clean()
        config.save()
        audit_record(
            actor=actor,
            action="psp_config.created" if created else "psp_config.updated",
            tenant_id=config.tenant_id,
            target=config,
            after={
                "provider": config.provider,
                "mode": config.mode,
                "enabled": config.enabled,
                "currencies": config.currencies,
                "publishable_key": config.publishable_key,
                "merchant_account": config.merchant_account,
                "live_url_prefix": config.live_url_prefix,
                "balance_account_id": config.balance_account_id,
                "webhook_username": config.webhook_username,
                # Which secrets were replaced, by name only (a key named "secret"
                # would be redacted whole by the audit trail).
                "replaced": [
                    name
                    for name, given in (
                        ("api key", secret_key),
                        ("webhook signing key", webhook_secret),
                        ("HMAC key", hmac_key),
                        ("webhook password", webhook_password),
                        ("balance platform HMAC key", balance_platform_hmac_key),
                    )
                    if given
                ],
            },
        )
    return config


def psp_config_ensure_simulated(
    *, tenant: Tenant, provider: str = "stripe"
) -> PSPConfig:
    """Simulator mode only: give a brand a test-mode config with generated secrets
    (no real Stripe key; the simulator never calls Stripe)."""
    if not simulator_enabled():
        raise RuntimeError("psp_config_ensure_simulated needs the simulator enabled")
    existing = PSPConfig.objects.filter(tenant=tenant, provider=provider).first()
    if existing is not None:
        return existing
    if provider == "adyen":
        config = PSPConfig(
            tenant=tenant,
            provider=provider,
            mode=PSPConfig.Mode.TEST,
            merchant_account=f"Simulator{tenant.slug.title()}",
            webhook_username="adyen-simulator",
            balance_account_id=f"BASIM{secrets.token_hex(10).upper()}",
        )
        generated = {
            "secret_key": f"{ADYEN_SIMULATOR_API_KEY_PREFIX}{secrets.token_hex(16)}",
            "hmac_key": secrets.token_hex(32).upper(),
            "webhook_password": secrets.token_urlsafe(24),
            "balance_platform_hmac_key": secrets.token_hex(32).upper(),
        }
    else:
        config = PSPConfig(
            tenant=tenant,
            provider=provider,
            mode=PSPConfig.Mode.TEST,
            publishable_key=f"pk_test_simulator{secrets.token_hex(8)}",
        )
        generated = {
            "secret_key": f"{SIMULATOR_KEY_PREFIX}{secrets.token_hex(16)}",
            "webhook_secret": f"whsec_simulator{secrets.token_hex(16)}",
        }
    try:
        with transaction.atomic():
            return psp_config_save(
                actor=Actor.system("payments-simulator"),
                config=config,
                created=True,
                **generated,
            )
    except (IntegrityError, ValidationError):  # a concurrent first deposit made it
        return PSPConfig.objects.get(tenant=tenant, provider=provider)


def psp_config_check_credentials(*, config: PSPConfig, actor: Actor) -> None:
    """Make a harmless authenticated call to the PSP; raises ``ProviderError`` or
    ``ProviderUnavailable``. Audited with the outcome, never the key."""
    provider = provider_build(name=config.provider, config=config)
    outcome = "ok"
    try:
        provider.check_credentials()
    except Exception as exc:
        outcome = getattr(exc, "code", type(exc).__name__)
        raise
    finally:
        audit_record(
            actor=actor,
            action="psp_config.credentials_checked",
            tenant_id=config.tenant_id,
            target=config,
            after={"outcome": outcome},
        )


# --- deposits --------------------------------------------------------------------


def deposit_start(
    *,
    player: Player,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    return_url_for: Callable[[Deposit], str],
    provider: str | None = None,
) -> Deposit:
    """Start a deposit and open the PSP's checkout for it; returns the deposit with
    its ``checkout_url``. A replay (same key, same request) returns the same deposit;
    a replay of one whose checkout was never opened (PSP unavailable) tries again
    with the same PSP idempotency key. Opens its own transactions."""
    tenant = player.tenant
    if not tenant_policy_get(tenant=tenant).deposits_enabled:
        raise ModuleTemporarilyDisabled(details={"module": "deposits"})
    if not player.is_active:
        raise PlayerBlocked()
    exponent_of(currency)
    if not tenant.currency_allowed(currency):
        raise DepositCurrencyNotAllowed(details={"currency": currency})
    if provider is None:
        provider = payment_route_get(tenant_id=tenant.pk, currency=currency).deposit
    if simulator_enabled():
        psp_config_ensure_simulated(tenant=tenant, provider=provider)
    config = psp_config_for_deposit(tenant=tenant, provider=provider, currency=currency)
    with transaction.atomic(durable=True):
        deposit, _ = wallet.deposit_create(
            player=player,
            provider=provider,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
            actor=Actor.for_player(player),
        )
    if deposit.state != Deposit.State.CREATED:
        return deposit
    return_url = return_url_for(deposit)
    try:
        # A player waits on the PSP no longer than the budget (payments.budget).
        with psp_time_budget(settings.DEPOSIT_START_BUDGET_SECONDS):
            return _deposit_checkout_open(
                deposit=deposit, config=config, return_url=return_url
            )
    except ProviderUnavailable:
        task_enqueue(
            "payments.deposit_checkout_open",
            deposit_id=deposit.pk,
            return_url=return_url,
        )
        raise DepositCheckoutPending(
            details={"deposit_id": deposit.pk, "state": deposit.state}
        ) from None


def deposit_checkout_resume(*, deposit_id: int, return_url: str) -> Deposit:
    """Worker side of a deposit start the PSP did not answer in time: open the
    checkout with the PSP's full timeout, under the same idempotency key. A deposit
    no longer ``created`` (opened meanwhile, failed, expired) is left alone."""
    deposit = Deposit.objects.select_related("player__tenant").get(pk=deposit_id)
    if deposit.state != Deposit.State.CREATED:
        return deposit
    config = psp_config_for_deposit(
        tenant=deposit.player.tenant,
        provider=deposit.provider,
        currency=deposit.currency,
    )
    return _deposit_checkout_open(deposit=deposit, config=config, return_url=return_url)


def _deposit_checkout_open(
    *, deposit: Deposit, config: PSPConfig, return_url: str
) -> Deposit:
    """Call the PSP (no transaction, no lock held), then record the checkout."""
    provider = provider_build(name=config.provider, config=config)
    request = CheckoutRequest(
        deposit_id=deposit.pk,
        tenant_slug=deposit.player.tenant.slug,
        amount_minor=deposit.amount_minor,
        currency=deposit.currency,
        idempotency_key=f"deposit:{deposit.pk}",
        return_url=return_url,
        cancel_url=return_url,
        customer_reference=f"player:{deposit.player_id}",
    )
    system = Actor.system("payments")
    try:
        session = provider.create_deposit_checkout(request)
    except ProviderError as exc:
        with transaction.atomic(durable=True):
            wallet.deposit_fail(
                deposit_id=deposit.pk,
                tenant_id=deposit.tenant_id,
                reason=f"{exc.code}: {exc.message}",
                actor=system,
            )
        raise
    # ProviderUnavailable propagates and leaves the deposit "created": the outcome
    # is unknown, and a replay asks the PSP again under the same idempotency key.
    with transaction.atomic(durable=True):
        return wallet.deposit_checkout_attach(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            provider_reference=session.provider_reference,
            checkout_url=session.redirect_url,
            actor=system,
        )


# --- webhooks --------------------------------------------------------------------


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
    claimed event id, and enqueue its application (``payments.webhook_apply``): one
    commit for the common case, so the PSP is acknowledged fast. A repeat of an event
    is stored as a duplicate and moves nothing.

    Raises ``WebhookSignatureInvalid`` / ``WebhookPayloadInvalid`` (400: the delivery
    is kept as rejected unless ``store_rejected()`` says not to, nothing applied)."""
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
        events = provider.verify_and_parse_webhook(body=body, headers=headers)
    except _WEBHOOK_REFUSALS as exc:
        inbox_id = None
        if store_rejected():
            with transaction.atomic(durable=True):
                inbox_id = WebhookInbox.objects.create(
                    **raw,
                    status=Status.REJECTED,
                    error=f"{exc.code}: {exc.details.get('reason', '')}",
                ).pk
        logger.warning(
            "webhook.rejected",
            extra={"inbox_id": inbox_id, "code": exc.code, **exc.details},
        )
        raise
    if len(events) == 1:
        event = events[0]
        try:
            inbox = _inbox_insert(
                **raw, event_id=event.event_id, event_type=event.event_type[:100]
            )
        except IntegrityError:  # a repeat: kept as a duplicate of the first
            with transaction.atomic(durable=True):
                inbox = WebhookInbox.objects.create(**raw)
            return _webhook_claim_and_process(config=config, inbox=inbox, event=event)
        task_enqueue("payments.webhook_apply", inbox_id=inbox.pk)
        return WebhookResult(inbox=inbox, duplicate=False)
    with transaction.atomic(durable=True):
        inbox = WebhookInbox.objects.create(**raw)
    return _webhook_batch_split(config=config, inbox=inbox, events=events)


def _inbox_insert(**fields) -> WebhookInbox:
    """The hot path's one write: a single INSERT is its own transaction in
    autocommit (one round trip, where BEGIN/INSERT/COMMIT takes three); inside an
    outer transaction (tests) it takes a savepoint so a duplicate's IntegrityError
    leaves the outer one usable."""
    if not connection.in_atomic_block:
        return WebhookInbox.objects.create(**fields)
    with transaction.atomic():
        return WebhookInbox.objects.create(**fields)


def _webhook_batch_split(
    *, config: PSPConfig, inbox: WebhookInbox, events: list[WebhookEvent]
) -> WebhookResult:
    """A verified batch (Adyen may send several items in one delivery): each item
    becomes a delivery row of its own, holding that item alone, so each is
    deduplicated, applied and reprocessed on its own. The raw row stays as the
    record of what arrived. Every item is tried; if one failed to apply, that
    failure is raised at the end (the PSP retries, the others are then duplicates)."""
    results, split_ids, failure = [], [], None
    for event in events:
        with transaction.atomic(durable=True):
            item_inbox = WebhookInbox.objects.create(
                provider=config.provider,
                config=config,
                tenant_id=config.tenant_id,
                headers={"x-split-from-delivery": str(inbox.pk)},
                body=json.dumps(
                    {"notificationItems": [{"NotificationRequestItem": event.payload}]}
                ),
            )
        split_ids.append(item_inbox.pk)
        try:
            results.append(
                _webhook_claim_and_process(config=config, inbox=item_inbox, event=event)
            )
        except WebhookProcessingFailed as exc:
            failure = failure or exc
    WebhookInbox.objects.filter(pk=inbox.pk).update(
        status=Status.IGNORED,
        event_type="batch",
        error="batch split into deliveries " + ", ".join(f"#{pk}" for pk in split_ids),
        processed_at=timezone.now(),
    )
    if failure is not None:
        raise failure
    return WebhookResult(
        inbox=results[-1].inbox, duplicate=all(result.duplicate for result in results)
    )


def _webhook_claim_and_process(
    *, config: PSPConfig, inbox: WebhookInbox, event: WebhookEvent
) -> WebhookResult:
    inbox.event_type = event.event_type[:100]
    target = inbox
    try:
        with transaction.atomic(durable=True):
            inbox.event_id = event.event_id
            inbox.save(update_fields=["event_id", "event_type"])
    except IntegrityError:
        # Another delivery of this event claimed it first (maybe at this instant).
        inbox.event_id = ""
        target = WebhookInbox.objects.get(
            provider=config.provider, event_id=event.event_id
        )
        WebhookInbox.objects.filter(pk=inbox.pk).update(
            status=Status.DUPLICATE, duplicate_of=target, event_type=inbox.event_type
        )
        if target.config_id != config.pk:
            logger.warning(
                "webhook.event_id_of_another_endpoint", extra={"inbox_id": inbox.pk}
            )
            return WebhookResult(inbox=target, duplicate=True)
    # Acknowledge fast: the application runs on a worker (payments.tasks). The claim
    # above has committed; the row, verified and claimed, is the outbox the sweep
    # re-drives if this message is lost.
    task_enqueue("payments.webhook_apply", inbox_id=target.pk)
    return WebhookResult(inbox=target, duplicate=target.pk != inbox.pk)


def webhook_process(
    *, inbox_id: int, event: WebhookEvent | None = None
) -> WebhookInbox:
    """Apply a verified delivery once: locks its inbox row, so concurrent deliveries
    of one event serialise and the second finds it processed. Opens its own
    transaction; on failure the row is marked failed and ``WebhookProcessingFailed``
    is raised."""
    try:
        with transaction.atomic(durable=True):
            inbox = (
                WebhookInbox.objects.select_for_update()
                .select_related("config")
                .get(pk=inbox_id)
            )
            if inbox.status in (Status.PROCESSED, Status.IGNORED):
                return inbox
            if event is None:
                provider = provider_build(name=inbox.provider, config=inbox.config)
                (event,) = provider.parse_verified_webhook(body=inbox.body.encode())
            applied = event_apply(config=inbox.config, event=event)
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
        logger.exception("webhook.processing_failed", extra={"inbox_id": inbox_id})
        WebhookInbox.objects.filter(pk=inbox_id).update(
            status=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1,
        )
        raise WebhookProcessingFailed(details={"inbox_id": inbox_id}) from exc


def webhook_reprocess(*, inbox: WebhookInbox, actor: Actor) -> WebhookInbox:
    """Operator's retry of a verified delivery that failed (or was never applied).
    Rejected and duplicate deliveries are refused: their signature never vouched
    for them, or another row carries the event."""
    if (
        inbox.status not in (Status.FAILED, Status.RECEIVED, Status.DEAD)
        or not inbox.event_id
    ):
        raise WebhookNotReprocessable(
            details={"inbox_id": inbox.pk, "status": inbox.status}
        )
    audit_record(
        actor=actor,
        action="webhook.reprocessed",
        tenant_id=inbox.tenant_id,
        target=inbox,
        before={"status": inbox.status},
    )
    return webhook_process(inbox_id=inbox.pk)


@dataclass(frozen=True, slots=True)
class Applied:
    deposit_id: int | None
    note: str = ""
    handled: bool = False  # applied to something other than a deposit (a payout)


_CHECKOUT = "checkout.session."


def _deposit_for_event(*, config: PSPConfig, event: WebhookEvent) -> Deposit | None:
    """The brand's deposit an event is about; never another brand's."""
    deposits = Deposit.objects.filter(
        tenant_id=config.tenant_id, provider=config.provider
    )
    obj = event.payload["data"]["object"]
    deposit_id = (
        int(event.merchant_reference.removeprefix("deposit:"))
        if event.merchant_reference
        else None
    )
    if event.event_type.startswith(_CHECKOUT):
        found = deposits.filter(pk=deposit_id).first() if deposit_id else None
        return (
            found or deposits.filter(provider_reference=event.object_reference).first()
        )
    payment_intent = str(obj.get("payment_intent") or "")
    found = (
        deposits.filter(payment_reference=payment_intent).first()
        if payment_intent
        else None
    )
    return found or (deposits.filter(pk=deposit_id).first() if deposit_id else None)


def event_apply(*, config: PSPConfig, event: WebhookEvent) -> Applied:
    """Apply one verified event through the wallet's deposit state machine. Events
    out of order are absorbed there (no state goes backwards); anything suspicious
    flags the deposit for review instead of moving money."""
    if config.provider == "adyen":
        from payments.adyen_events import adyen_event_apply

        return adyen_event_apply(config=config, event=event)
    if event.event_type not in SUPPORTED_EVENTS:
        return Applied(None, f"event type {event.event_type} is not handled")
    deposit = _deposit_for_event(config=config, event=event)
    if deposit is None:
        return Applied(None, "no deposit of this brand matches the event")
    actor = Actor.psp(config.provider)
    ids = {"deposit_id": deposit.pk, "tenant_id": config.tenant_id, "actor": actor}
    obj = event.payload["data"]["object"]

    if event.event_type.startswith(_CHECKOUT):
        if deposit.provider_reference and (
            event.object_reference != deposit.provider_reference
        ):
            wallet.deposit_flag_review(
                **ids,
                reason=f"{event.event_type} for session {event.object_reference}, "
                f"but the deposit's session is {deposit.provider_reference}",
            )
            return Applied(deposit.pk, "session does not match: flagged")
        if event.event_type in (
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
        ):
            if not event.success:
                return Applied(deposit.pk, "not paid yet: waiting for async payment")
            wallet.deposit_complete(
                **ids,
                amount_minor=event.amount_minor
                if event.amount_minor is not None
                else -1,
                currency=event.currency or "",
                payment_reference=payment_intent_of(obj),
            )
        elif event.event_type == "checkout.session.async_payment_failed":
            wallet.deposit_fail(**ids, reason="asynchronous payment failed")
        elif event.event_type == "checkout.session.expired":
            wallet.deposit_expire(**ids)
    elif event.event_type == "charge.refunded":
        wallet.deposit_refund_record(
            **ids,
            refunded_total_minor=event.amount_minor or 0,
            currency=event.currency or "",
        )
    elif event.event_type == "charge.dispute.created":
        wallet.deposit_chargeback_record(
            **ids, amount_minor=event.amount_minor or 0, currency=event.currency or ""
        )
    return Applied(deposit.pk)


# --- routing -----------------------------------------------------------------------


def payment_route_save(
    *, actor: Actor, route: PaymentRoute, created: bool
) -> PaymentRoute:
    """Save a brand's route (admin); audited."""
    with transaction.atomic(savepoint=False):
        route.currency = route.currency.upper()
        route.full_clean()
        route.save()
        audit_record(
            actor=actor,
            action="payment_route.created" if created else "payment_route.updated",
            tenant_id=route.tenant_id,
            target=route,
            after={
                "currency": route.currency,
                "deposit_provider": route.deposit_provider,
                "payout_provider": route.payout_provider,
            },
        )
    return route


def payment_route_delete(*, actor: Actor, route: PaymentRoute) -> None:
    with transaction.atomic(savepoint=False):
        audit_record(
            actor=actor,
            action="payment_route.deleted",
            tenant_id=route.tenant_id,
            target=route,
            before={
                "currency": route.currency,
                "deposit_provider": route.deposit_provider,
                "payout_provider": route.payout_provider,
            },
        )
        route.delete()


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

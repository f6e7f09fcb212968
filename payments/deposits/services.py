"""Starting a deposit: the one place a deposit start checks its policies, then the
wallet records it and the brand's PSP opens a checkout for it.

``deposit_start`` is an orchestrator, like a task: it opens its own short
transactions (``atomic(durable=True)``) because the PSP call must sit between them
and never under a row lock. Call it outside any transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from casino.models import Player
from common.actors import Actor
from common.locks import advisory_lock
from common.queue import task_enqueue
from payments.budget import psp_time_budget
from payments.config.services import psp_config_ensure_simulated
from payments.exceptions import (
    DepositCheckoutPending,
    ProviderError,
    ProviderUnavailable,
)
from payments.models import PSPConfig
from payments.providers.base import CheckoutRequest
from payments.providers.registry import provider_build
from payments.providers.stripe.provider import simulator_enabled
from payments.selectors import payment_route_get, psp_config_for_deposit
from tenants.features import tenant_provider_require
from wallet import services as wallet
from wallet.models import Deposit

logger = logging.getLogger(__name__)


def deposit_start(
    *,
    player: Player,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    return_url_for: Callable[[Deposit], str],
    provider: str | None = None,
) -> tuple[Deposit, bool]:
    """Start a deposit and open the PSP's checkout for it; ``(deposit, replayed)``.

    A replay (same key, same request) is looked up first and returns the first
    deposit whatever changed since; a replay of one whose checkout was never opened
    (PSP unavailable) tries again with the same PSP idempotency key. Policies are
    checked in one place, ``wallet.services.deposit_policy_check``, under the
    player lock. Concurrent requests with one key make one PSP call: the checkout
    is opened under an advisory lock on the deposit (no row lock), and whoever
    waited finds it opened. Opens its own transactions.

    The player waits on the PSP no longer than ``DEPOSIT_START_BUDGET_SECONDS``
    (``payments.budget``): past it (or on any ``ProviderUnavailable``) the checkout
    is left to a worker (``payments.deposit_checkout_open``, same PSP idempotency
    key) and ``DepositCheckoutPending`` (202) is raised; the deposit stays
    ``created``, so a replay or the worker opens it, once."""
    tenant = player.tenant
    deposit = wallet.deposit_replay_get(
        player=player,
        idempotency_key=idempotency_key,
        amount_minor=amount_minor,
        currency=currency,
    )
    replayed = deposit is not None
    if deposit is None:
        if provider is None:
            provider = payment_route_get(tenant_id=tenant.pk, currency=currency).deposit
        tenant_provider_require(tenant=tenant, provider=provider)  # feature flags
        with transaction.atomic(durable=True):
            deposit, created = wallet.deposit_create(
                player=player,
                provider=provider,
                amount_minor=amount_minor,
                currency=currency,
                idempotency_key=idempotency_key,
                actor=Actor.for_player(player),
            )
            replayed = not created
            if created:
                if simulator_enabled():
                    psp_config_ensure_simulated(tenant=tenant, provider=provider)
                # No configuration: the whole start rolls back, nothing is left.
                psp_config_for_deposit(
                    tenant=tenant, provider=provider, currency=currency
                )
    if deposit.state != Deposit.State.CREATED:
        return deposit, replayed
    return_url = return_url_for(deposit)
    try:
        # A player waits on the PSP no longer than the budget (payments.budget).
        with psp_time_budget(settings.DEPOSIT_START_BUDGET_SECONDS):
            return _deposit_checkout_open_once(
                deposit=deposit, return_url=return_url
            ), replayed
    except ProviderUnavailable:
        pass
    # Outside the advisory lock: in eager mode the task runs here and takes it.
    task_enqueue(
        "payments.deposit_checkout_open", deposit_id=deposit.pk, return_url=return_url
    )
    raise DepositCheckoutPending(
        details={"deposit_id": deposit.pk, "state": deposit.state}
    )


def deposit_checkout_resume(*, deposit_id: int, return_url: str) -> Deposit:
    """Worker side of a deposit start the PSP did not answer in time: open the
    checkout with the PSP's full timeout, under the same idempotency key and the
    same advisory lock as ``deposit_start``. A deposit no longer ``created``
    (opened meanwhile, failed, expired) is left alone."""
    deposit = Deposit.objects.select_related("player__tenant").get(pk=deposit_id)
    if deposit.state != Deposit.State.CREATED:
        return deposit
    return _deposit_checkout_open_once(deposit=deposit, return_url=return_url)


def _deposit_checkout_open_once(*, deposit: Deposit, return_url: str) -> Deposit:
    """Open the checkout under an advisory lock on the deposit (no row lock):
    concurrent starts with one key, and the worker, make one PSP call; whoever
    waited finds it opened."""
    refused: ProviderError | None = None
    with advisory_lock(f"deposit:{deposit.pk}:checkout"):
        deposit.refresh_from_db()
        if deposit.state != Deposit.State.CREATED:
            return deposit  # another request opened it meanwhile
        config = psp_config_for_deposit(
            tenant=deposit.player.tenant,
            provider=deposit.provider,
            currency=deposit.currency,
        )
        try:
            return _deposit_checkout_open(
                deposit=deposit, config=config, return_url=return_url
            )
        except ProviderError as exc:
            refused = exc  # the failed deposit commits with the lock's transaction
    raise refused


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
        # Inside the advisory lock's transaction (common.locks): commits with it.
        with transaction.atomic():
            wallet.deposit_fail(
                deposit_id=deposit.pk,
                tenant_id=deposit.tenant_id,
                reason=f"{exc.code}: {exc.message}",
                actor=system,
            )
        raise
    # ProviderUnavailable propagates and leaves the deposit "created": the outcome
    # is unknown, and a replay asks the PSP again under the same idempotency key.
    with transaction.atomic():
        return wallet.deposit_checkout_attach(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            provider_reference=session.provider_reference,
            checkout_url=session.redirect_url,
            actor=system,
        )

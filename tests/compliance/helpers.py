"""Shared helpers of the compliance tests: deposits through the wallet services."""

from __future__ import annotations

import itertools

from django.db import transaction

from casino.exclusions.services import player_time_out_start
from common.actors import Actor
from tests.factories import PlayerFactory, fund
from wallet import services as wallet
from wallet.compliance.deposit_limits import player_deposit_limit_set
from wallet.compliance.risk import aml_thresholds_evaluate

_keys = itertools.count(1)
PSP = Actor.psp("stripe")


def deposit_start(player, amount_minor: int, currency: str = "EUR"):
    """Record a deposit as the deposit flow does (its own transaction)."""
    with transaction.atomic():
        deposit, _ = wallet.deposit_create(
            player=player,
            provider="stripe",
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=f"dep-{next(_keys)}",
            actor=Actor.for_player(player),
        )
    return deposit


def deposit_paid(player, amount_minor: int, currency: str = "EUR"):
    """A deposit the PSP confirmed: created, then completed (credited)."""
    deposit = deposit_start(player, amount_minor, currency)
    with transaction.atomic():
        return wallet.deposit_complete(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=amount_minor,
            currency=currency,
            payment_reference=f"pi_{deposit.pk}",
            actor=PSP,
        )


def compliance_rows(tenant) -> None:
    """A row of every issue-13 admin model on ``tenant``, through the services, for
    a player of its own (funded via the manual provider, so the other fixtures'
    balances and Stripe clearing stay as they were)."""
    player = PlayerFactory(tenant=tenant, email=f"{tenant.slug}-rg@example.com")
    with transaction.atomic():
        player_deposit_limit_set(
            player=player, currency="EUR", period="week", amount_minor=50_000
        )
        player_time_out_start(player=player, hours=24)
        fund(player, 200_000, provider="manual")
        aml_thresholds_evaluate(player=player, currency="EUR")

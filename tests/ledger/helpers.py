"""Shared helpers of the ledger tests: a snapshot of everything a posting could
change, so a refused operation can be shown to have changed nothing."""

from __future__ import annotations

import itertools

from audit.models import AuditEvent
from common.actors import Actor
from wallet import services
from wallet.models import Account, Entry, Hold, JournalTransaction

SYSTEM = Actor.system("tests")
_keys = itertools.count(1)


def new_key(prefix: str = "k") -> str:
    return f"{prefix}:{next(_keys)}"


def ledger_snapshot(*, tenant_id: int) -> dict:
    return {
        "balances": dict(
            Account.objects.filter(tenant_id=tenant_id).values_list(
                "pk", "balance_minor"
            )
        ),
        "transactions": JournalTransaction.objects.filter(tenant_id=tenant_id).count(),
        "entries": Entry.objects.filter(tenant_id=tenant_id).count(),
        "holds": dict(
            Hold.objects.filter(tenant_id=tenant_id).values_list("pk", "state")
        ),
        "audit_events": AuditEvent.objects.filter(tenant_id=tenant_id).count(),
    }


def available_of(player, currency: str = "EUR") -> int:
    available, _ = services.player_accounts_get_or_create(
        player=player, currency=currency
    )
    return available.balance_minor


def held_of(player, currency: str = "EUR") -> int:
    _, held = services.player_accounts_get_or_create(player=player, currency=currency)
    return held.balance_minor


def transfer(*, source, destination, amount_minor: int, key: str | None = None):
    """Player-to-player transfer through transaction_post (kind TRANSFER)."""
    source_available, _ = services.player_accounts_get_or_create(
        player=source, currency="EUR"
    )
    destination_available, _ = services.player_accounts_get_or_create(
        player=destination, currency="EUR"
    )
    return services.transaction_post(
        tenant_id=source.tenant_id,
        kind=JournalTransaction.Kind.TRANSFER,
        lines=[
            services.PostingLine(source_available, -amount_minor),
            services.PostingLine(destination_available, amount_minor),
        ],
        idempotency_key=key or new_key("transfer"),
        actor=SYSTEM,
    )


def debit(player, amount_minor: int, key: str | None = None):
    """A chargeback-style debit of the player's available balance."""
    return services.player_debit(
        player=player,
        currency="EUR",
        amount_minor=amount_minor,
        destination_kind=Account.Kind.CHARGEBACK_RECEIVABLE,
        kind=JournalTransaction.Kind.CHARGEBACK,
        idempotency_key=key or new_key("debit"),
        actor=SYSTEM,
    )

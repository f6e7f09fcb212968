"""A paid deposit made the way a player makes one, for demo data.

``simulated_deposit_pay`` does what a player and the PSP do in ``make run``: start the
deposit through ``payments.deposits.services.deposit_start`` (the brand's payment route, its
simulator-mode PSP configuration, the deposit record and its checkout), then the
"Pay" of the simulator's checkout page: a correctly signed PSP event (Stripe
``checkout.session.completed`` or Adyen ``AUTHORISATION``) delivered to the real
webhook view, whose verification, inbox and handlers credit the player. Nothing
posts to the ledger directly, so the portal's deposit list and the ledger agree and
``reconcile`` finds every credit's deposit.

Idempotent per ``idempotency_key``: a repeat finds the deposit (``deposit_start``
replays it) and, when it is already completed, sends nothing.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from casino.models import Player
from payments.deposits.services import deposit_start
from payments.models import PSPConfig
from payments.providers.stripe.provider import simulator_enabled
from payments.simulator import adyen
from payments.simulator.events import deliver, event_for
from wallet.models import Deposit


class SimulatedDepositFailed(RuntimeError):
    """The webhook did not complete the deposit (its answer is in the message)."""


def simulated_deposit_pay(
    *, player: Player, amount_minor: int, currency: str, idempotency_key: str
) -> Deposit:
    """Start a deposit and pay it through the simulator's signed PSP event; returns
    the completed deposit. Needs ``PAYMENTS_SIMULATOR_ENABLED``; opens its own
    transactions (call it outside any)."""
    if not simulator_enabled():
        raise ImproperlyConfigured(
            "Demo deposits go through the PSP simulator: set "
            "PAYMENTS_SIMULATOR_ENABLED=true (make run and make seed do)."
        )
    deposit, _replayed = deposit_start(
        player=player,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        return_url_for=lambda d: f"/deposits/{d.pk}/",
    )
    if deposit.state == Deposit.State.PENDING_PROVIDER:
        config = PSPConfig.objects.get(
            tenant_id=deposit.tenant_id, provider=deposit.provider
        )
        if deposit.provider == "adyen":
            item = adyen.notification_item(
                config=config, deposit=deposit, event="AUTHORISATION"
            )
            response = adyen.deliver(config=config, document=adyen.batch(item))
        else:
            event = event_for(deposit, "checkout.session.completed")
            response = deliver(config=config, event=event)
        deposit.refresh_from_db()
        if response.status_code != 200:
            raise SimulatedDepositFailed(
                f"deposit {deposit.pk}: the webhook answered {response.status_code} "
                f"{response.content[:200]!r}"
            )
    if deposit.state != Deposit.State.COMPLETED:
        raise SimulatedDepositFailed(f"deposit {deposit.pk} is {deposit.state}")
    return deposit

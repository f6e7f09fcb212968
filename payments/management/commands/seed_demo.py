"""Demo data for ``make run``: two brands, their operators, a superuser, and players
whose history was made through the same flows a player's and an operator's is:

- deposits: started through ``deposit_start`` and paid by a correctly signed PSP
  event through the real webhook code (``payments.simulator.deposits``), so every
  deposit line of the ledger has its deposit record;
- withdrawals: requested by the player, then approved and paid out by the manual
  provider (marked paid with a bank reference), rejected by an operator, or left
  waiting for review; every payout posting has its withdrawal;
- adjustments: the operator's adjustment service, with a reason.

A payments command because it starts deposits and payouts (the wallet may not import
payments). Needs the PSP simulator (``PAYMENTS_SIMULATOR_ENABLED=true``, as ``make
seed`` sets it). Idempotent: tenants are found by slug, users by username, players by
email, and every action uses a stable idempotency key, so a second run changes
nothing. The passwords below are for local demos only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from casino.models import Player
from casino.services import (
    player_register,
    player_set_kyc_status,
    player_set_status,
    player_set_verified_name,
)
from common.actors import Actor
from common.demo_guard import demo_seed_refused_without_debug
from payments.models import Refund
from payments.providers.stripe.provider import simulator_enabled
from payments.simulator.deposits import simulated_deposit_pay, simulated_refund_confirm
from payments.withdrawals.manual import manual_payout_mark_paid
from payments.withdrawals.services import (
    withdrawal_review_approve,
    withdrawal_review_reject,
    withdrawal_submit,
)
from tenants.models import Operator, Tenant
from tenants.services import tenant_create
from wallet import services as wallet
from wallet.models import PayoutAttempt, Withdrawal

SEED = Actor.system("seed_demo")
SUPERUSER = ("admin", "demo-admin-pass")
PLAYER_PASSWORD = "demo-player-pass"


@dataclass(frozen=True)
class DemoPlayer:
    email: str
    deposits: tuple[tuple[str, int], ...] = ()  # (currency, minor units)
    adjustment: tuple[str, int, str] | None = None  # (currency, ±minor, reason)
    rejected_withdrawal: tuple[str, int] | None = None  # operator rejects: funds back
    paid_withdrawal: tuple[str, int] | None = None  # approved, paid by bank transfer
    pending_withdrawal: tuple[str, int] | None = None  # waits in the review queue
    kyc_status: str = Player.KycStatus.UNVERIFIED
    blocked: bool = False


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    currencies: tuple[str, ...]
    domains: tuple[str, ...]
    operator: tuple[str, str]  # username, password
    players: tuple[DemoPlayer, ...] = field(default=())


DEMO = (
    DemoTenant(
        slug="aurora",
        name="Aurora Casino",
        currencies=("EUR",),
        domains=("aurora.localhost",),
        operator=("aurora-operator", "demo-aurora-pass"),
        players=(
            DemoPlayer(
                "alice@example.com",
                deposits=(("EUR", 10_000), ("EUR", 2_500)),
                adjustment=("EUR", 500, "Goodwill credit after a support ticket"),
                rejected_withdrawal=("EUR", 3_000),
                pending_withdrawal=("EUR", 1_500),
                kyc_status=Player.KycStatus.VERIFIED,
            ),
            DemoPlayer(
                "bob@example.com",
                deposits=(("EUR", 5_000),),
                adjustment=("EUR", 2_000, "Tournament prize"),
                # Closed loop (issue 13): 50.00 back to the card as a refund of the
                # deposit, the 20.00 rest to the bank.
                paid_withdrawal=("EUR", 7_000),
                kyc_status=Player.KycStatus.VERIFIED,
            ),
            DemoPlayer(
                "carol@example.com",
                kyc_status=Player.KycStatus.PENDING,
                blocked=True,
            ),
        ),
    ),
    DemoTenant(
        slug="nebula",
        name="Nebula Bet",
        currencies=("EUR", "USD"),
        domains=("nebula.localhost",),
        operator=("nebula-operator", "demo-nebula-pass"),
        players=(
            # The same email as on Aurora: a separate player of another brand.
            DemoPlayer(
                "alice@example.com",
                deposits=(("USD", 20_000), ("EUR", 4_000)),
                adjustment=("USD", -1_500, "Duplicate bonus credited by mistake"),
            ),
            DemoPlayer(
                "dave@example.com",
                deposits=(("EUR", 7_500),),
                rejected_withdrawal=("EUR", 7_500),
                kyc_status=Player.KycStatus.VERIFIED,
            ),
        ),
    ),
)


# A valid test IBAN (checksum passes); demo data only.
DEMO_LICENSEE = ("stellar-gaming", "Stellar Gaming Ltd")
DEMO_IBAN = {"type": "iban", "iban": "DE89370400440532013000", "holder_name": "Demo"}


class Command(BaseCommand):
    help = "Create demo tenants, operators, a superuser and players (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the server will answer, for the printed links.",
        )

    def handle(self, *args, **options):
        demo_seed_refused_without_debug("seed_demo")
        if not simulator_enabled():
            raise CommandError(
                "Demo deposits go through the PSP simulator and the real webhook "
                "code: run with PAYMENTS_SIMULATOR_ENABLED=true (make seed does)."
            )
        # One transaction per business action, as in production: a deposit's start,
        # its webhook and a payout each commit on their own.
        with transaction.atomic(durable=True):
            self._superuser()
        for demo in DEMO:
            with transaction.atomic(durable=True):
                tenant = self._tenant(demo)
                operator = self._operator(demo, tenant)
            for demo_player in demo.players:
                self._player(tenant, operator, demo_player)
        self._licensee()
        self._print_logins(options["base_url"].rstrip("/"))

    def _licensee(self) -> None:
        """Issue 13: both demo brands belong to one operator that shares exclusions,
        so alice's time-out on Aurora also closes play for alice on Nebula."""
        licensee, _ = Operator.objects.get_or_create(
            slug=DEMO_LICENSEE[0],
            defaults={"name": DEMO_LICENSEE[1], "exclusion_covers_all_brands": True},
        )
        Tenant.objects.filter(slug__in=[demo.slug for demo in DEMO]).update(
            operator=licensee
        )

    # --- people --------------------------------------------------------------------

    def _superuser(self) -> None:
        username, password = SUPERUSER
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

    def _tenant(self, demo: DemoTenant) -> Tenant:
        tenant = Tenant.objects.filter(slug=demo.slug).first()
        if tenant is None:
            tenant = tenant_create(
                actor=SEED,
                slug=demo.slug,
                name=demo.name,
                default_currency=demo.currencies[0],
                allowed_currencies=list(demo.currencies),
                domains=demo.domains,
            )
        return tenant

    def _operator(self, demo: DemoTenant, tenant: Tenant):
        username, password = demo.operator
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = True
        user.is_superuser = False
        user.set_password(password)
        user.save()
        tenant.operators.add(user)
        return user

    def _player(self, tenant: Tenant, operator, demo: DemoPlayer) -> None:
        with transaction.atomic(durable=True):
            player = Player.objects.filter(tenant=tenant, email=demo.email).first()
            if player is None:
                player = player_register(
                    tenant=tenant, email=demo.email, password=PLAYER_PASSWORD
                )
        key = f"seed:{tenant.slug}:{demo.email}"
        staff = Actor.for_user(operator)
        for number, (currency, amount) in enumerate(demo.deposits, start=1):
            simulated_deposit_pay(
                player=player,
                amount_minor=amount,
                currency=currency,
                idempotency_key=f"{key}:deposit:{number}",
            )
        with transaction.atomic(durable=True):
            if demo.adjustment:
                currency, amount, reason = demo.adjustment
                wallet.adjustment_create(
                    actor=staff,
                    player=player,
                    currency=currency,
                    amount_minor=amount,
                    reason=reason,
                    idempotency_key=f"{key}:adjustment:1",
                )
            # KYC first: a withdrawal request needs it.
            if player.kyc_status != demo.kyc_status:
                player_set_kyc_status(
                    actor=staff,
                    player=player,
                    kyc_status=demo.kyc_status,
                    reason="Demo data",
                )
                player.refresh_from_db()
            if demo.kyc_status == Player.KycStatus.VERIFIED:
                # Issue 13: bank payouts go only to the verified name (closed loop).
                player_set_verified_name(
                    actor=staff,
                    player=player,
                    verified_name=DEMO_IBAN["holder_name"],
                    reason="Demo data",
                )
        if demo.rejected_withdrawal:
            withdrawal = self._withdrawal(player, demo.rejected_withdrawal, key, 1)
            with transaction.atomic(durable=True):
                withdrawal_review_reject(
                    withdrawal=withdrawal,
                    actor=staff,
                    reason="Demo data: the holder name did not match",
                )
        if demo.paid_withdrawal:
            withdrawal = self._withdrawal(player, demo.paid_withdrawal, key, 2)
            self._pay_out(withdrawal, staff)
        if demo.pending_withdrawal:
            self._withdrawal(player, demo.pending_withdrawal, key, 3)
        wanted = Player.Status.BLOCKED if demo.blocked else Player.Status.ACTIVE
        if player.status != wanted:
            with transaction.atomic(durable=True):
                player_set_status(
                    actor=staff, player=player, status=wanted, reason="Demo data"
                )

    def _withdrawal(
        self, player: Player, spec: tuple[str, int], key: str, number: int
    ) -> Withdrawal:
        """The player's request, as the API and the portal make it."""
        currency, amount = spec
        with transaction.atomic(durable=True):
            withdrawal, _ = withdrawal_submit(
                player=player,
                amount_minor=amount,
                currency=currency,
                destination=DEMO_IBAN,
                idempotency_key=f"{key}:withdrawal:{number}",
            )
        return withdrawal

    def _pay_out(self, withdrawal: Withdrawal, staff: Actor) -> None:
        """The operator approves; the closed-loop refund legs go to the deposits'
        PSP (the simulator confirms them with its signed refund events), the rest
        to the brand's payout provider (manual by default, dispatched after commit)
        and the operator marks the bank transfer paid, as on the review page."""
        if withdrawal.state == Withdrawal.State.REQUESTED:
            with transaction.atomic(durable=True):
                withdrawal_review_approve(withdrawal=withdrawal, actor=staff)
        for refund in Refund.objects.filter(
            hold__refund_leg_of=withdrawal, state=Refund.State.PENDING
        ).select_related("deposit"):
            simulated_refund_confirm(refund=refund)
        withdrawal.refresh_from_db()
        attempt = withdrawal.attempts.order_by("-number").first()
        if (
            withdrawal.state == Withdrawal.State.PAYOUT_PENDING
            and attempt is not None
            and attempt.state in PayoutAttempt.OPEN_STATES
        ):
            with transaction.atomic(durable=True):
                manual_payout_mark_paid(
                    attempt=attempt,
                    actor=staff,
                    bank_reference=f"DEMO-BANK-{withdrawal.pk}",
                )

    # --- output --------------------------------------------------------------------

    def _print_logins(self, base: str) -> None:
        out = self.stdout.write
        out("")
        out(
            self.style.WARNING("DEMO-ONLY credentials (never use these anywhere real):")
        )
        out(f"  Admin: {base}/admin/")
        out(f"    superuser (all brands)     {SUPERUSER[0]} / {SUPERUSER[1]}")
        for demo in DEMO:
            username, password = demo.operator
            out(f"    operator of {demo.slug:<14} {username} / {password}")
        out(f"  Player API: {base}/api/v1/  (docs: {base}/api/docs/)")
        out("    send the header X-Tenant: <slug>, or use the brand's host name")
        for demo in DEMO:
            emails = ", ".join(p.email for p in demo.players)
            hosts = ", ".join(demo.domains)
            out(f"    {demo.slug} ({hosts}): {emails}")
        out(f"    every demo player's password: {PLAYER_PASSWORD}")
        out("    (carol@example.com on aurora is blocked: her login is refused)")

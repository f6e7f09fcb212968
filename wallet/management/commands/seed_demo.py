"""Demo data for ``make run``: two brands, their operators, a superuser, and players
whose history was made through the ledger services (never by writing balances).

Idempotent: tenants are found by slug, users by username, players by email, and every
posting uses a stable idempotency key, so a second run changes nothing.
The passwords below are for local demos only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from casino.models import Player
from casino.services import player_register, player_set_kyc_status, player_set_status
from common.actors import Actor
from common.demo_guard import demo_seed_refused_without_debug
from tenants.models import Tenant
from tenants.services import tenant_create
from wallet import services as wallet
from wallet.models import Account, JournalTransaction

SEED = Actor.system("seed_demo")
SUPERUSER = ("admin", "demo-admin-pass")
PLAYER_PASSWORD = "demo-player-pass"


@dataclass(frozen=True)
class DemoPlayer:
    email: str
    deposits: tuple[tuple[str, int], ...] = ()  # (currency, minor units)
    adjustment: tuple[str, int, str] | None = None  # (currency, ±minor, reason)
    voided_hold: tuple[str, int] | None = None
    paid_hold: tuple[str, int] | None = None
    pending_withdrawal: tuple[str, int] | None = None
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
                voided_hold=("EUR", 3_000),
                pending_withdrawal=("EUR", 1_500),
                kyc_status=Player.KycStatus.VERIFIED,
            ),
            DemoPlayer(
                "bob@example.com",
                deposits=(("EUR", 5_000),),
                paid_hold=("EUR", 2_000),
                kyc_status=Player.KycStatus.PENDING,
            ),
            DemoPlayer("carol@example.com", blocked=True),
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
                voided_hold=("EUR", 7_500),
            ),
        ),
    ),
)


# A valid test IBAN (checksum passes); demo data only.
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
        with transaction.atomic(durable=True):
            self._superuser()
            for demo in DEMO:
                tenant = self._tenant(demo)
                operator = self._operator(demo, tenant)
                for demo_player in demo.players:
                    self._player(tenant, operator, demo_player)
        self._print_logins(options["base_url"].rstrip("/"))

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
        player = Player.objects.filter(tenant=tenant, email=demo.email).first()
        if player is None:
            player = player_register(
                tenant=tenant, email=demo.email, password=PLAYER_PASSWORD
            )
        key = f"seed:{tenant.slug}:{demo.email}"
        staff = Actor.for_user(operator)
        for number, (currency, amount) in enumerate(demo.deposits, start=1):
            wallet.player_credit(
                player=player,
                currency=currency,
                amount_minor=amount,
                source_kind=Account.Kind.PSP_CLEARING,
                kind=JournalTransaction.Kind.DEPOSIT,
                idempotency_key=f"{key}:deposit:{number}",
                actor=Actor.psp("stripe"),
                provider="stripe",
                reference=f"demo-deposit-{number}",
            )
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
        for name, spec, resolve in (
            ("voided", demo.voided_hold, wallet.hold_void),
            ("paid", demo.paid_hold, wallet.hold_post),
        ):
            if spec is None:
                continue
            currency, amount = spec
            hold = wallet.hold_place(
                player=player,
                currency=currency,
                amount_minor=amount,
                idempotency_key=f"{key}:hold:{name}",
                actor=Actor.for_player(player),
                reference=f"demo-withdrawal-{name}",
            )
            resolve(hold=hold, actor=staff)
        if demo.pending_withdrawal:
            currency, amount = demo.pending_withdrawal
            wallet.withdrawal_request(
                player=player,
                amount_minor=amount,
                currency=currency,
                destination=DEMO_IBAN,
                idempotency_key=f"{key}:withdrawal:1",
                actor=Actor.for_player(player),
            )
        wanted = Player.Status.BLOCKED if demo.blocked else Player.Status.ACTIVE
        if player.status != wanted:
            player_set_status(
                actor=staff, player=player, status=wanted, reason="Demo data"
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

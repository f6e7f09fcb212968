"""The client processes of the load run: players, and an operator who also plays
the PSPs' part for payouts and refunds.

Each process is started fresh (``spawn``), sets Django up against the same database
and talks to the server only over HTTP, except where it plays a PSP: to build the
signed notification a PSP would send it reads the deposit, refund or payout attempt
the PSP was asked about (what the PSP knows), with the simulator's builders
(``payments.simulator``), and posts it to the real webhook endpoint.

Players (a few per process, taking turns): register and log in (new players) or log
in (veterans), read ``me``, balances, history, deposits and withdrawals, start
deposits (EUR through Stripe, GBP through Adyen; sometimes a replay with the same
key), pay them (the PSP's signed event, delivered 1-3 times, sometimes followed by
a second event for the same payment), request withdrawals (sometimes beyond the
balance), cancel them. The operator: the admin's withdrawal queue, approve or reject
(sometimes a double click), reject failed payouts; as the PSP, report each refund
leg (succeeded or failed) and each bank transfer (booked or failed), some twice.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field

from tests.load.brand import PLAYER_PASSWORD, VERIFIED_NAME, LoadBrand
from tests.load.session import Recorder, Session

IBAN = "DE89370400440532013000"
QUEUE = "/admin/wallet/withdrawal/"
CHANGE_LINK = re.compile(rb"/admin/wallet/withdrawal/(\d+)/change/")


@dataclass(frozen=True)
class ClientSpec:
    number: int
    role: str  # "operator" | "players"
    host: str
    port: int
    seconds: float
    seed: int
    brand: LoadBrand
    new_players: int = 0
    veterans: tuple[str, ...] = ()


@dataclass
class ClientResult:
    number: int
    role: str
    recorder: Recorder
    paid_deposits: list[int] = field(default_factory=list)
    withdrawals: list[int] = field(default_factory=list)
    deliveries: int = 0
    repeated_deliveries: int = 0
    notes: list[str] = field(default_factory=list)


def client_run(spec: ClientSpec) -> ClientResult:
    """A client process's task (Django is set up: ``client_process_setup``)."""
    random.seed(spec.seed)
    result = ClientResult(number=spec.number, role=spec.role, recorder=Recorder())
    deadline = time.monotonic() + spec.seconds
    if spec.role == "operator":
        OperatorClient(spec, result).run(deadline)
    else:
        PlayersClient(spec, result).run(deadline)
    return result


# --- the PSPs' notifications (signed exactly as each PSP signs them) ----------------


class Psp:
    """Builds and posts the PSP's signed notifications for this brand."""

    def __init__(self, spec: ClientSpec, result: ClientResult) -> None:
        from payments.models import PSPConfig

        self.result = result
        self.stripe = PSPConfig.objects.get(pk=spec.brand.stripe_config_id)
        self.adyen = PSPConfig.objects.get(pk=spec.brand.adyen_config_id)
        self.session = Session(
            host=spec.host,
            port=spec.port,
            recorder=result.recorder,
            ip=f"10.200.{spec.number}.1",
        )

    def deliver_stripe(self, event: dict, *, times: int = 1) -> bool:
        from payments.providers.stripe import webhooks as stripe_webhooks

        body = json.dumps(event).encode()
        signature = stripe_webhooks.sign(
            payload=body,
            secret=self.stripe.webhook_secret(),
            timestamp=int(time.time()),
        )
        return self._deliver(
            "POST /api/v1/webhooks/stripe/{endpoint}/",
            f"/api/v1/webhooks/stripe/{self.stripe.endpoint_id}/",
            body,
            {"Stripe-Signature": signature},
            times,
        )

    def deliver_adyen_item(self, item: dict, *, times: int = 1) -> bool:
        from payments.simulator import adyen as adyen_sim

        body = json.dumps(adyen_sim.batch(item)).encode()
        return self._deliver(
            "POST /api/v1/webhooks/adyen/{endpoint}/ (notification)",
            f"/api/v1/webhooks/adyen/{self.adyen.endpoint_id}/",
            body,
            {"Authorization": adyen_sim.basic_auth_header(self.adyen)},
            times,
        )

    def deliver_adyen_transfer(self, document: dict, *, times: int = 1) -> bool:
        from payments.providers.adyen.webhooks import payload_signature
        from payments.simulator import adyen as adyen_sim

        body = json.dumps(document).encode()
        return self._deliver(
            "POST /api/v1/webhooks/adyen/{endpoint}/ (transfer)",
            f"/api/v1/webhooks/adyen/{self.adyen.endpoint_id}/",
            body,
            {
                "Authorization": adyen_sim.basic_auth_header(self.adyen),
                "HmacSignature": payload_signature(
                    body, hmac_key=self.adyen.balance_platform_hmac_key()
                ),
            },
            times,
        )

    def _deliver(self, endpoint, path, body, headers, times) -> bool:
        """The same bytes ``times`` times (a PSP redelivers); True when the first
        was acknowledged."""
        acknowledged = []
        for _ in range(times):
            reply = self.session.call(
                endpoint,
                "POST",
                path,
                raw=body,
                headers={"Content-Type": "application/json", **headers},
            )
            acknowledged.append(reply is not None and reply.status == 200)
        self.result.deliveries += times
        self.result.repeated_deliveries += times - 1
        return acknowledged[0]


def _times() -> int:
    return random.choices([1, 2, 3], weights=[70, 20, 10])[0]


# --- players ------------------------------------------------------------------------


@dataclass
class Player:
    email: str
    holder_name: str
    session: Session
    registered: bool
    token: str = ""
    available: dict[str, int] = field(default_factory=dict)
    unpaid: list[int] = field(default_factory=list)
    requested: list[int] = field(default_factory=list)
    deposits: list[int] = field(default_factory=list)


class PlayersClient:
    def __init__(self, spec: ClientSpec, result: ClientResult) -> None:
        self.spec, self.result = spec, result
        self.psp = Psp(spec, result)
        self.players: list[Player] = []
        for n in range(spec.new_players):
            self.players.append(
                self._player(
                    f"p{spec.number}-{n}-{uuid.uuid4().hex[:6]}@{spec.brand.slug}.invalid",
                    holder="New Player",
                    registered=False,
                    n=n,
                )
            )
        for n, email in enumerate(spec.veterans, start=spec.new_players):
            self.players.append(
                self._player(email, holder=VERIFIED_NAME, registered=True, n=n)
            )

    def _player(self, email: str, *, holder: str, registered: bool, n: int) -> Player:
        session = Session(
            host=self.spec.host,
            port=self.spec.port,
            recorder=self.result.recorder,
            ip=f"10.{self.spec.number % 250}.{n // 250}.{n % 250 + 2}",
        )
        session.headers["X-Tenant"] = self.spec.brand.slug
        return Player(
            email=email, holder_name=holder, session=session, registered=registered
        )

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            player = random.choice(self.players)
            if not player.token:
                self.sign_in(player)
            else:
                self.act(player)
            time.sleep(random.uniform(0, 0.03))

    def sign_in(self, player: Player) -> None:
        if not player.registered:
            reply = player.session.call(
                "POST /api/v1/auth/register",
                "POST",
                "/api/v1/auth/register",
                json_body={
                    "email": player.email,
                    "password": PLAYER_PASSWORD,
                    "display_name": "Load",
                },
            )
            player.registered = reply is not None and reply.status == 201
            if not player.registered:
                return
        reply = player.session.call(
            "POST /api/v1/auth/login",
            "POST",
            "/api/v1/auth/login",
            json_body={"email": player.email, "password": PLAYER_PASSWORD},
        )
        if reply is not None and reply.status == 200:
            player.token = reply.json()["token"]
            player.session.headers["Authorization"] = f"Bearer {player.token}"

    def act(self, player: Player) -> None:
        actions = [
            (self.balances, 20),
            (self.me, 6),
            (self.history, 6),
            (self.deposit_list, 4),
            (self.deposit_start, 14),
            (self.withdrawal_list, 5),
            (self.relogin, 1),
        ]
        if player.unpaid:
            actions.append((self.pay, 16))
        if player.deposits:
            actions.append((self.deposit_detail, 3))
        if any(amount > 0 for amount in player.available.values()):
            actions.append((self.withdraw, 10))
        if player.requested:
            actions += [(self.cancel, 4), (self.withdrawal_detail, 3)]
        action = random.choices(
            [a for a, _ in actions], weights=[w for _, w in actions]
        )[0]
        action(player)

    def _get(self, player: Player, endpoint: str, path: str):
        return player.session.call(f"GET {endpoint}", "GET", path)

    def me(self, player):
        self._get(player, "/api/v1/me", "/api/v1/me")

    def history(self, player):
        self._get(
            player,
            "/api/v1/wallet/transactions",
            "/api/v1/wallet/transactions?page_size=25",
        )

    def deposit_list(self, player):
        self._get(player, "/api/v1/deposits", "/api/v1/deposits")

    def withdrawal_list(self, player):
        self._get(player, "/api/v1/withdrawals", "/api/v1/withdrawals")

    def deposit_detail(self, player):
        deposit_id = random.choice(player.deposits)
        self._get(player, "/api/v1/deposits/{id}", f"/api/v1/deposits/{deposit_id}")

    def withdrawal_detail(self, player):
        withdrawal_id = random.choice(player.requested)
        self._get(
            player, "/api/v1/withdrawals/{id}", f"/api/v1/withdrawals/{withdrawal_id}"
        )

    def relogin(self, player):
        player.token = ""
        player.session.headers.pop("Authorization", None)
        self.sign_in(player)

    def balances(self, player):
        reply = self._get(player, "/api/v1/wallet/balances", "/api/v1/wallet/balances")
        if reply is not None and reply.status == 200:
            player.available = {
                row["currency"]: row["available_minor"]
                for row in reply.json()["balances"]
            }

    def deposit_start(self, player):
        currency = random.choice(["EUR", "GBP"])
        amount = f"{random.randint(5, 80)}.{random.randint(0, 99):02d}"
        key = uuid.uuid4().hex
        body = {"amount": amount, "currency": currency}
        for _ in range(2 if random.random() < 0.1 else 1):  # a replay, sometimes
            reply = player.session.call(
                "POST /api/v1/deposits",
                "POST",
                "/api/v1/deposits",
                json_body=body,
                headers={"Idempotency-Key": key},
            )
        if reply is None:
            return
        if reply.status in (201, 202):
            data = reply.json()
            deposit_id = data.get("id") or data["error"]["details"]["deposit_id"]
            if deposit_id not in player.deposits:
                player.deposits.append(deposit_id)
                player.unpaid.append(deposit_id)

    def pay(self, player):
        """The player pays at the PSP's page; the PSP notifies us."""
        from payments.simulator import adyen as adyen_sim
        from payments.simulator.events import event_for
        from wallet.models import Deposit

        deposit_id = player.unpaid[0]
        deposit = Deposit.objects.select_related("player__tenant").get(pk=deposit_id)
        if deposit.state == Deposit.State.CREATED:
            return  # the checkout is not open yet (a worker asks the PSP again)
        player.unpaid.pop(0)
        if deposit.state != Deposit.State.PENDING_PROVIDER:
            self.result.notes.append(f"deposit {deposit_id} was {deposit.state}")
            return
        if deposit.provider == "stripe":
            paid = self.psp.deliver_stripe(
                event_for(deposit, "checkout.session.completed"), times=_times()
            )
            if random.random() < 0.1:  # the same payment reported by another event
                self.psp.deliver_stripe(
                    event_for(deposit, "checkout.session.async_payment_succeeded")
                )
        else:
            paid = self.psp.deliver_adyen_item(
                adyen_sim.notification_item(
                    config=self.psp.adyen, deposit=deposit, event="AUTHORISATION"
                ),
                times=_times(),
            )
        if paid:
            self.result.paid_deposits.append(deposit_id)

    def withdraw(self, player):
        currency = random.choice([c for c, v in player.available.items() if v > 0])
        available = player.available[currency]
        beyond = random.random() < 0.1
        amount_minor = (
            available + random.randint(1, 1000)
            if beyond
            else random.randint(min(100, available), available)
        )
        reply = player.session.call(
            "POST /api/v1/withdrawals",
            "POST",
            "/api/v1/withdrawals",
            json_body={
                "amount": f"{amount_minor // 100}.{amount_minor % 100:02d}",
                "currency": currency,
                "destination": {
                    "type": "iban",
                    "iban": IBAN,
                    "holder_name": player.holder_name,
                },
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if reply is not None and reply.status == 201:
            withdrawal_id = reply.json()["id"]
            player.requested.append(withdrawal_id)
            self.result.withdrawals.append(withdrawal_id)
            player.available[currency] = available - amount_minor
            if random.random() < 0.15:  # changed their mind before the review
                self.cancel(player, withdrawal_id=withdrawal_id)

    def cancel(self, player, withdrawal_id: int | None = None):
        if withdrawal_id is None:
            withdrawal_id = random.choice(player.requested)
        player.requested.remove(withdrawal_id)
        player.session.call(
            "POST /api/v1/withdrawals/{id}/cancel",
            "POST",
            f"/api/v1/withdrawals/{withdrawal_id}/cancel",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )


# --- the operator (and the PSPs' payout and refund outcomes) -------------------------


class OperatorClient:
    def __init__(self, spec: ClientSpec, result: ClientResult) -> None:
        self.spec, self.result = spec, result
        self.brand = spec.brand
        self.psp = Psp(spec, result)
        self.session = Session(
            host=spec.host,
            port=spec.port,
            recorder=result.recorder,
            ip=f"10.201.{spec.number}.1",
        )
        self.approved: set[int] = set()
        # What this PSP already reported (each once; repeats are deliberate).
        self.reported_refunds: set[int] = set()
        self.reported_transfers: set[int] = set()

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline and not self.sign_in():
            time.sleep(1)  # a TOTP code is good once per 30 s step
        while time.monotonic() < deadline:
            self.review()
            self.report_refunds()
            self.report_transfers()
            time.sleep(random.uniform(0.05, 0.3))

    def sign_in(self) -> bool:
        from django_otp.oath import TOTP

        self.session.call("GET /admin/login/", "GET", "/admin/login/")
        totp = TOTP(bytes.fromhex(self.brand.operator_totp_key))
        reply = self.session.call(
            "POST /admin/login/",
            "POST",
            "/admin/login/?next=/admin/",
            form={
                "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""),
                "username": self.brand.operator_username,
                "password": self.brand.operator_password,
                "otp_token": f"{totp.token():06d}",
                "next": "/admin/",
            },
        )
        return reply is not None and reply.status == 302

    def _queue(self, state: str) -> list[int]:
        reply = self.session.call(
            f"GET {QUEUE} ({state})",
            "GET",
            f"{QUEUE}?state__exact={state}&tenant={self.brand.tenant_id}",
        )
        if reply is None or reply.status != 200:
            return []
        return sorted({int(pk) for pk in CHANGE_LINK.findall(reply.body)})

    def _act(self, withdrawal_id: int, action: str, **form) -> None:
        self.session.call(
            f"POST {QUEUE}{{id}}/{action}/",
            "POST",
            f"{QUEUE}{withdrawal_id}/{action}/",
            form={"csrfmiddlewaretoken": self.session.cookies["csrftoken"], **form},
        )

    def review(self) -> None:
        for withdrawal_id in self._queue("requested")[:5]:
            if withdrawal_id in self.approved or random.random() < 0.25:
                # Refused before (e.g. a bank account in another name) or judged.
                self._act(withdrawal_id, "reject", reason="load test review")
                continue
            self.approved.add(withdrawal_id)
            for _ in range(2 if random.random() < 0.1 else 1):  # a double click
                self._act(withdrawal_id, "approve")
        for withdrawal_id in self._queue("payout_failed")[:5]:
            self._act(withdrawal_id, "reject", reason="payout failed")

    def _to_report(self, rows, reported: set[int]) -> list:
        """The PSP's next outcomes to send: rows it was asked about (it answered
        with its reference) and has not reported yet, oldest first."""
        batch = list(
            rows.filter(tenant_id=self.brand.tenant_id)
            .exclude(provider_reference="")
            .exclude(pk__in=reported)
            .order_by("id")[:10]
        )
        reported.update(row.pk for row in batch)
        return batch

    def report_refunds(self) -> None:
        """Each refund leg the PSPs were asked for: succeeded (mostly) or failed."""
        from payments.models import Refund
        from payments.simulator import adyen as adyen_sim
        from payments.simulator.events import event_for

        refunds = self._to_report(
            Refund.objects.filter(state=Refund.State.PENDING).select_related(
                "deposit__player__tenant"
            ),
            self.reported_refunds,
        )
        for refund in refunds:
            succeeded = random.random() < 0.9
            if refund.provider == "stripe":
                event = event_for(
                    refund.deposit,
                    "charge.refund.updated",
                    amount_minor=refund.amount_minor,
                )
                event["data"]["object"].update(
                    id=refund.provider_reference,
                    status="succeeded" if succeeded else "failed",
                    metadata={
                        "deposit_id": str(refund.deposit_id),
                        "refund": f"refund:{refund.pk}",
                    },
                )
                self.psp.deliver_stripe(event, times=_times())
            else:
                item = adyen_sim.notification_item(
                    config=self.psp.adyen,
                    deposit=refund.deposit,
                    event="REFUND" if succeeded else "REFUND_FAILED",
                    amount_minor=refund.amount_minor,
                    psp_reference=refund.provider_reference,
                )
                self.psp.deliver_adyen_item(item, times=_times())

    def report_transfers(self) -> None:
        """Each bank transfer sent: booked (mostly) or failed."""
        from payments.simulator import adyen as adyen_sim
        from wallet.models import PayoutAttempt

        attempts = self._to_report(
            PayoutAttempt.objects.filter(state=PayoutAttempt.State.SENT).select_related(
                "withdrawal__hold"
            ),
            self.reported_transfers,
        )
        for attempt in attempts:
            status = "booked" if random.random() < 0.85 else "failed"
            document = adyen_sim.transfer_update(
                config=self.psp.adyen,
                transfer_id=attempt.provider_reference,
                reference=f"withdrawal:{attempt.withdrawal_id}:attempt:{attempt.pk}",
                amount_minor=attempt.withdrawal.hold.amount_minor,
                currency=attempt.withdrawal.currency,
                status=status,
                sequence_number=adyen_sim.TRANSFER_SEQUENCE[status],
            )
            self.psp.deliver_adyen_transfer(document, times=_times())

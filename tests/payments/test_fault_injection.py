"""Faults injected at the PSP and database boundaries; the money is checked after.

PSP faults go through the local fake Stripe (tests/payments/fake_stripe.py) in a
fault mode, so the real ``stripe`` library, its HTTP client and our translation of
its errors are what meet the fault. Database faults are raised by PostgreSQL itself
(a trigger on ``wallet_entry`` raising SQLSTATE 40001 / 40P01 on the posting path),
so the real psycopg error reaches ``common/dberrors.py``.

After each fault: the answer is a registered error, no money moved, and once the
fault heals the same request (same idempotency key) completes exactly once; a paid
deposit is credited exactly once however often the PSP says so.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from django.db import transaction

from common.actors import Actor
from payments.deposits import refunds
from payments.models import Refund
from payments.outbox import outbox_sweep
from payments.providers.stripe import webhooks as stripe_webhooks
from payments.simulator.events import event_for
from tests.factories import PlayerFactory, token_for
from tests.payments.factories import PSPConfigFactory, completed_deposit
from tests.withdrawals.factories import verified_player
from wallet.models import Deposit, Entry, Withdrawal
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_brand(fake_stripe, settings):
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return config, PlayerFactory(tenant=config.tenant)


def _headers(player, key="fault-key-1"):
    return {
        "HTTP_X_TENANT": player.tenant.slug,
        "HTTP_AUTHORIZATION": f"Bearer {token_for(player)}",
        "HTTP_IDEMPOTENCY_KEY": key,
    }


def _start_deposit(api_client, player):
    return api_client.post(
        "/api/v1/deposits",
        {"amount": "50.00", "currency": "EUR"},
        format="json",
        **_headers(player),
    )


def _available(player) -> int:
    return sum(b.available_minor for b in balance_list(player=player))


def _pay(
    client, config, deposit, event="checkout.session.completed", amount_minor=None
) -> int:
    body = json.dumps(event_for(deposit, event, amount_minor=amount_minor)).encode()
    signature = stripe_webhooks.sign(
        payload=body, secret=config.webhook_secret(), timestamp=int(time.time())
    )
    return client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    ).status_code


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


def _inject(fault, fake, settings):
    if fault == "timeout":
        fake.delay_seconds = 1.5
    elif fault == "connection-refused":
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{_closed_port()}"
    elif fault == "http-500":
        fake.fail_with_status = 500
    elif fault == "garbage-200":
        fake.garbage_reply = b"<html>502 from a proxy</html>"
    elif fault == "slow-drip":
        fake.drip_stall_seconds = 1.5


def _heal(fake, settings):
    fake.delay_seconds = fake.drip_stall_seconds = 0
    fake.fail_with_status = fake.garbage_reply = None
    settings.STRIPE_API_BASE = fake.url


@pytest.mark.parametrize(
    "fault", ["timeout", "connection-refused", "http-500", "garbage-200", "slow-drip"]
)
def test_a_psp_fault_at_deposit_start_moves_nothing_and_the_retry_completes_once(
    api_client, client, stripe_brand, fake_stripe, settings, fault
):
    config, player = stripe_brand
    _inject(fault, fake_stripe, settings)

    faulted = _start_deposit(api_client, player)

    # Issue 9: the player is not kept waiting on an unknown PSP answer; a worker
    # goes on trying with the same PSP idempotency key.
    assert faulted.status_code == 202, faulted.content
    assert faulted.json()["error"]["code"] == "DEPOSIT_CHECKOUT_PENDING"
    deposit = Deposit.objects.get(player=player)
    assert deposit.state == Deposit.State.CREATED  # unknown outcome: not failed
    assert not Entry.objects.filter(account__player=player).exists()

    _heal(fake_stripe, settings)
    if fault in ("timeout", "slow-drip"):
        time.sleep(1.2)  # let the fake finish the answer the client gave up on
    retried = _start_deposit(api_client, player)

    assert retried.status_code == 201, retried.content
    assert retried.json()["id"] == deposit.pk
    assert retried.json()["state"] == "pending_provider"
    # Where the PSP did act on the lost request (timeout, slow drip) the retry's
    # same Idempotency-Key got that session back: never a second checkout.
    assert fake_stripe.created_sessions == 1
    deposit.refresh_from_db()
    assert (_pay(client, config, deposit), _pay(client, config, deposit)) == (200, 200)
    assert _available(player) == 5_000
    assert Entry.objects.filter(account__player=player).count() == 1


def test_a_process_killed_between_the_psp_call_and_its_commit_is_recovered_from_the_psp(
    api_client, client, stripe_brand, fake_stripe, monkeypatch
):
    """The checkout was opened at Stripe, then the process died before recording
    it. Nothing is guessed: the retry asks Stripe again with the same idempotency
    key and gets the same session back; the payment Stripe reports is credited once."""
    from payments.deposits import services

    config, player = stripe_brand
    real_attach = services.wallet.deposit_checkout_attach

    def killed(**kwargs):
        raise SystemExit("killed after the PSP call, before the commit")

    monkeypatch.setattr(services.wallet, "deposit_checkout_attach", killed)
    with pytest.raises(SystemExit):
        _start_deposit(api_client, player)
    monkeypatch.setattr(services.wallet, "deposit_checkout_attach", real_attach)

    deposit = Deposit.objects.get(player=player)
    assert deposit.state == Deposit.State.CREATED
    assert not deposit.provider_reference
    assert fake_stripe.created_sessions == 1
    assert _available(player) == 0

    recovered = _start_deposit(api_client, player)

    assert recovered.status_code == 201
    assert recovered.json()["state"] == "pending_provider"
    assert fake_stripe.created_sessions == 1  # the same session, asked again
    deposit.refresh_from_db()
    stripe_sessions = [
        json.loads(reply)["id"] for _, reply in fake_stripe.idempotent_replies.values()
    ]
    assert deposit.provider_reference == stripe_sessions[0]
    assert _pay(client, config, deposit) == 200
    assert _pay(client, config, deposit) == 200
    assert _available(player) == 5_000


def test_a_paid_checkout_whose_record_was_lost_is_credited_by_the_psps_event(
    api_client, client, stripe_brand, fake_stripe, monkeypatch
):
    """Same crash, but the player pays the opened checkout before anyone retries:
    Stripe's event names our deposit, and it is credited exactly once."""
    from payments.deposits import services

    config, player = stripe_brand

    def killed(**kwargs):
        raise SystemExit("killed after the PSP call, before the commit")

    monkeypatch.setattr(services.wallet, "deposit_checkout_attach", killed)
    with pytest.raises(SystemExit):
        _start_deposit(api_client, player)
    monkeypatch.undo()
    deposit = Deposit.objects.get(player=player)

    assert (_pay(client, config, deposit), _pay(client, config, deposit)) == (200, 200)
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert _available(player) == 5_000
    assert Entry.objects.filter(account__player=player).count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sqlstate", "reason"), [("40001", "serialization"), ("40P01", "deadlock")]
)
def test_a_database_conflict_on_the_posting_path_is_refused_cleanly_and_retried_once(
    api_client, sqlstate, reason
):
    from django.db import connection

    player = verified_player(balance_minor=20_000)
    entries = Entry.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION chaos_posting_fault() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'injected {reason}' USING ERRCODE = '{sqlstate}';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER chaos_posting_fault BEFORE INSERT ON wallet_entry
            FOR EACH ROW EXECUTE FUNCTION chaos_posting_fault();
            """
        )
    body = {
        "amount": "30.00",
        "currency": "EUR",
        "destination": {
            "type": "iban",
            "iban": "DE89370400440532013000",
            "holder_name": "Ann Example",
        },
    }

    refused = api_client.post(
        "/api/v1/withdrawals", body, format="json", **_headers(player, "wd-1")
    )

    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["code"] == "CONCURRENT_UPDATE_CONFLICT"
    assert refused["Retry-After"]
    assert Entry.objects.count() == entries
    assert not Withdrawal.objects.filter(player=player).exists()
    assert _available(player) == 20_000

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER chaos_posting_fault ON wallet_entry")
    retried = api_client.post(
        "/api/v1/withdrawals", body, format="json", **_headers(player, "wd-1")
    )
    again = api_client.post(
        "/api/v1/withdrawals", body, format="json", **_headers(player, "wd-1")
    )

    assert retried.status_code == 201, retried.content
    assert again.json()["id"] == retried.json()["id"]
    assert Withdrawal.objects.filter(player=player).count() == 1
    (balance,) = balance_list(player=player)
    assert (balance.available_minor, balance.held_minor) == (17_000, 3_000)


# Refunds are Stripe's other boundary (``POST /v1/refunds``, on a worker). Payouts are
# not: the Stripe adapter refuses them (``StripeProvider.send_payout``), so a
# withdrawal routed to Stripe fails before any call is made.


def _refund_asked(deposit, capture) -> Refund:
    """An operator's refund of 20.00; its dispatch runs on commit (on a worker)."""
    with capture(execute=True), transaction.atomic(durable=True):
        refund = refunds.refund_request(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=2_000,
            reason="player asked",
            actor=Actor.system("fault-tests"),
            request_key=f"refund-{uuid.uuid4()}",
        )
    refund.refresh_from_db()
    return refund


@pytest.mark.parametrize(
    "fault", ["timeout", "connection-refused", "http-500", "garbage-200", "slow-drip"]
)
def test_a_psp_fault_sending_a_refund_books_nothing_and_the_sweep_sends_it_once(
    client,
    stripe_brand,
    fake_stripe,
    settings,
    fault,
    django_capture_on_commit_callbacks,
):
    config, player = stripe_brand
    deposit = completed_deposit(player, 5_000)
    _inject(fault, fake_stripe, settings)

    refund = _refund_asked(deposit, django_capture_on_commit_callbacks)

    # Unknown: still pending, no Stripe reference, nothing booked.
    assert (refund.state, refund.provider_reference) == (Refund.State.PENDING, "")
    assert _available(player) == 5_000

    _heal(fake_stripe, settings)
    if fault in ("timeout", "slow-drip"):
        time.sleep(1.2)  # let the fake finish the answer the client gave up on
    assert outbox_sweep(stale_seconds=0)["refunds"] == 1
    refund.refresh_from_db()

    assert refund.provider_reference.startswith("re_")
    assert fake_stripe.created_refunds == 1  # a lost answer's refund, replayed
    assert outbox_sweep(stale_seconds=0)["refunds"] == 0
    refunded = _pay(client, config, deposit, "charge.refunded", amount_minor=2_000)
    assert refunded == 200
    assert _pay(client, config, deposit, "charge.refunded", amount_minor=2_000) == 200
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert _available(player) == 3_000


def test_a_refund_whose_record_was_lost_after_stripe_took_it_is_recovered_from_stripe(
    client, stripe_brand, fake_stripe, monkeypatch, django_capture_on_commit_callbacks
):
    """Stripe made the refund, then the worker died before recording its id. The
    sweep sends it again with the same idempotency key and gets Stripe's refund
    back; Stripe's event books it once."""
    config, player = stripe_brand
    deposit = completed_deposit(player, 5_000)

    def killed(**kwargs):
        raise SystemExit("killed after the PSP call, before the commit")

    monkeypatch.setattr(refunds, "refund_provider_reference_set", killed)
    with pytest.raises(SystemExit):
        _refund_asked(deposit, django_capture_on_commit_callbacks)
    monkeypatch.undo()
    refund = Refund.objects.get(deposit=deposit)

    assert (refund.state, refund.provider_reference) == (Refund.State.PENDING, "")
    assert fake_stripe.created_refunds == 1

    outbox_sweep(stale_seconds=0)
    refund.refresh_from_db()

    (first_answer,) = [
        json.loads(reply)
        for _, reply in fake_stripe.idempotent_replies.values()
        if json.loads(reply)["object"] == "refund"
    ]
    assert refund.provider_reference == first_answer["id"]
    assert fake_stripe.created_refunds == 1  # the same refund, asked again
    assert _pay(client, config, deposit, "charge.refunded", amount_minor=2_000) == 200
    assert _pay(client, config, deposit, "charge.refunded", amount_minor=2_000) == 200
    assert _available(player) == 3_000

"""Adyen's faults at each boundary the product calls it, and the money after.

The boundaries: opening a deposit's payment link (``POST /paymentLinks``, in the
player's request), refunding a deposit (``POST /payments/{psp}/refunds``, on a
worker) and paying a withdrawal out (``POST /transfers``, on a worker). Each meets
the faults of the local fake Adyen (tests/adyen/fake_adyen.py) through the real
``Adyen`` library and our translation of its errors: Adyen acts but answers too late
(timeout), or tears its answer (slow drip); nothing listens (connection refused);
Adyen answers 500, or a 200 that is not JSON. Then the process killed between
Adyen's answer and the commit that records it, for a refund and a payout.

After each: no money moved on an unknown outcome (a refund is not booked, a payout's
funds stay held), and once the fault heals the re-drive (the player's retry, the
outbox sweep, ``reconcile_payouts``) asks Adyen with the same idempotency key, so
Adyen holds one payment link, one refund, one transfer, and the ledger books it once
however often Adyen reports it.
"""

from __future__ import annotations

import socket
import uuid

import pytest
from django.db import transaction

from common.actors import Actor
from payments.deposits import refunds
from payments.deposits.refunds import refund_request
from payments.models import PaymentRoute, Refund
from payments.outbox import outbox_sweep
from payments.reconciliation import payout_attempt_status_check
from payments.simulator.adyen import (
    batch,
    deliver_transfer_update,
    notification_item,
    transfer_update,
)
from payments.withdrawals import services as withdrawals
from payments.withdrawals.services import payout_dispatch, withdrawal_review_approve
from tests.adyen.conftest import adyen_psp_config, post_notification
from tests.factories import token_for
from tests.payments.factories import pending_deposit
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    verified_player,
    withdrawal_requested,
)
from wallet.models import Deposit, Entry, PayoutAttempt, Withdrawal
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db

FAULTS = ["timeout", "connection-refused", "http-500", "garbage-200", "slow-drip"]
LINK = {
    "id": "PL0001",
    "url": "https://test.adyen.link/PL0001",
    "expiresAt": "2030-01-01T00:00:00Z",
    "status": "active",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


def _inject(fault, fake, settings):
    if fault == "timeout":
        fake.delay_seconds = 1.5
    elif fault == "connection-refused":
        closed = f"http://127.0.0.1:{_closed_port()}"
        settings.ADYEN_CHECKOUT_BASE_URL = settings.ADYEN_TRANSFERS_BASE_URL = closed
    elif fault == "http-500":
        fake.fail_with_status = 500
    elif fault == "garbage-200":
        fake.garbage_reply = b"<html>502 from a proxy</html>"
    elif fault == "slow-drip":
        fake.drip_stall_seconds = 1.5


def _heal(fake, settings):
    fake.heal()
    settings.ADYEN_CHECKOUT_BASE_URL = settings.ADYEN_TRANSFERS_BASE_URL = fake.url


@pytest.fixture
def brand(fake_adyen, settings):
    settings.ADYEN_TIMEOUT_SECONDS = 0.5
    config = adyen_psp_config()
    PaymentRoute.objects.create(
        tenant=config.tenant, deposit_provider="adyen", payout_provider="adyen"
    )
    return config


def _available_held(player) -> tuple[int, int]:
    [balance] = balance_list(player=player)
    return balance.available_minor, balance.held_minor


def _notify(client, config, deposit, event, **fields) -> int:
    item = notification_item(config=config, deposit=deposit, event=event, **fields)
    return post_notification(client, config, batch(item)).status_code


# --- the payment link, in the player's request -------------------------------------


def _start_deposit(client, player):
    return client.post(
        "/api/v1/deposits",
        {"amount": "50.00", "currency": "EUR"},
        content_type="application/json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY="adyen-fault-1",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_an_adyen_fault_opening_the_payment_link_moves_nothing_and_the_retry_opens_one(
    client, brand, fake_adyen, settings, fault
):
    player = verified_player(tenant=brand.tenant, balance_minor=0)
    fake_adyen.routes["/paymentLinks"] = (201, LINK)
    _inject(fault, fake_adyen, settings)

    faulted = _start_deposit(client, player)

    assert faulted.status_code == 202, faulted.content
    assert faulted.json()["error"]["code"] == "DEPOSIT_CHECKOUT_PENDING"
    deposit = Deposit.objects.get(player=player)
    assert deposit.state == Deposit.State.CREATED  # unknown outcome: not failed
    assert not Entry.objects.filter(account__player=player).exists()

    _heal(fake_adyen, settings)
    retried = _start_deposit(client, player)

    assert retried.status_code == 201, retried.content
    assert (retried.json()["id"], retried.json()["state"]) == (
        deposit.pk,
        "pending_provider",
    )
    # Where Adyen acted on the lost request (timeout, slow drip) the same
    # Idempotency-Key got that link back: never a second one.
    assert fake_adyen.created("/paymentLinks") == 1
    assert {r["headers"]["Idempotency-Key"] for r in fake_adyen.requests} == {
        f"deposit:{deposit.pk}"
    }
    deposit.refresh_from_db()
    assert deposit.provider_reference == "PL0001"
    assert _notify(client, brand, deposit, "AUTHORISATION") == 200
    assert _notify(client, brand, deposit, "AUTHORISATION") == 200
    assert _available_held(player) == (5_000, 0)
    assert Entry.objects.filter(account__player=player).count() == 1


# --- refunds, on a worker ----------------------------------------------------------


@pytest.fixture
def paid_deposit(client, brand, fake_adyen):
    player = verified_player(tenant=brand.tenant, balance_minor=0)
    deposit = pending_deposit(player, 5_000, provider="adyen")
    assert _notify(client, brand, deposit, "AUTHORISATION") == 200
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    fake_adyen.status, fake_adyen.body = (
        201,
        {
            "pspReference": "RF-0001",
            "status": "received",
        },
    )
    return deposit


def _refund_asked(deposit, capture) -> Refund:
    """An operator's refund of 20.00; its dispatch runs on commit (on a worker)."""
    with capture(execute=True), transaction.atomic(durable=True):
        refund = refund_request(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=2_000,
            reason="player asked",
            actor=Actor.system("fault-tests"),
            request_key=f"refund-{uuid.uuid4()}",
        )
    refund.refresh_from_db()
    return refund


def _refund_confirmed_twice(client, config, refund) -> None:
    for _ in range(2):
        status = _notify(
            client,
            config,
            refund.deposit,
            "REFUND",
            amount_minor=refund.amount_minor,
            merchant_reference=f"refund:{refund.pk}",
            psp_reference=refund.provider_reference,
        )
        assert status == 200


@pytest.mark.parametrize("fault", FAULTS)
def test_an_adyen_fault_sending_a_refund_books_nothing_and_the_sweep_sends_it_once(
    client,
    brand,
    paid_deposit,
    fake_adyen,
    settings,
    fault,
    django_capture_on_commit_callbacks,
):
    player = paid_deposit.player
    _inject(fault, fake_adyen, settings)

    refund = _refund_asked(paid_deposit, django_capture_on_commit_callbacks)

    # Unknown: still pending, with no Adyen reference, nothing booked.
    assert (refund.state, refund.provider_reference) == (Refund.State.PENDING, "")
    assert _available_held(player) == (5_000, 0)

    _heal(fake_adyen, settings)
    assert outbox_sweep(stale_seconds=0)["refunds"] == 1
    refund.refresh_from_db()

    assert refund.provider_reference == "RF-0001"
    assert (
        fake_adyen.created(f"/payments/{paid_deposit.payment_reference}/refunds") == 1
    )
    assert outbox_sweep(stale_seconds=0)["refunds"] == 0  # nothing left to send
    _refund_confirmed_twice(client, brand, refund)
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert _available_held(player) == (3_000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_a_refund_whose_record_was_lost_after_adyen_took_it_is_recovered_from_adyen(
    client,
    brand,
    paid_deposit,
    fake_adyen,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Adyen took the refund, then the worker died before recording its reference.
    The sweep sends it again with the same idempotency key: Adyen answers with the
    refund it made, and its confirmation books it once."""
    player = paid_deposit.player

    def killed(**kwargs):
        raise SystemExit("killed after the PSP call, before the commit")

    monkeypatch.setattr(refunds, "refund_provider_reference_set", killed)
    with pytest.raises(SystemExit):
        _refund_asked(paid_deposit, django_capture_on_commit_callbacks)
    monkeypatch.undo()
    refund = Refund.objects.get(deposit=paid_deposit)
    refunds_path = f"/payments/{paid_deposit.payment_reference}/refunds"

    assert (refund.state, refund.provider_reference) == (Refund.State.PENDING, "")
    assert fake_adyen.created(refunds_path) == 1
    assert _available_held(player) == (5_000, 0)

    outbox_sweep(stale_seconds=0)
    refund.refresh_from_db()

    assert refund.provider_reference == "RF-0001"
    assert fake_adyen.created(refunds_path) == 1  # the same refund, asked again
    assert len(fake_adyen.requests) == 2
    _refund_confirmed_twice(client, brand, refund)
    assert _available_held(player) == (3_000, 0)


# --- payouts, on a worker ----------------------------------------------------------


@pytest.fixture
def payout_player(brand, fake_adyen):
    fake_adyen.status, fake_adyen.body = 202, {"id": "TR-1", "status": "received"}
    return verified_player(tenant=brand.tenant, balance_minor=10_000)


def _payout_sent(player) -> Withdrawal:
    withdrawal = withdrawal_requested(player, 2_000)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    payout_dispatch(attempt_id=withdrawal.attempts.get().pk)
    withdrawal.refresh_from_db()
    return withdrawal


def _booked_twice(config, withdrawal) -> None:
    attempt = latest_attempt(withdrawal)
    for _ in range(2):
        response = deliver_transfer_update(
            config=config,
            document=transfer_update(
                config=config,
                transfer_id="TR-1",
                reference=f"withdrawal:{withdrawal.pk}:attempt:{attempt.pk}",
                amount_minor=withdrawal.amount_minor,
                currency=withdrawal.currency,
                status="booked",
                reason="approved",
                sequence_number=5,
            ),
        )
        assert response.status_code == 200


@pytest.mark.parametrize("fault", FAULTS)
def test_an_adyen_fault_sending_a_payout_keeps_it_held_and_asking_adyen_pays_it_once(
    brand, payout_player, fake_adyen, settings, fault
):
    _inject(fault, fake_adyen, settings)

    withdrawal = _payout_sent(payout_player)

    attempt = latest_attempt(withdrawal)
    assert (attempt.state, attempt.provider_reference) == (
        PayoutAttempt.State.UNKNOWN,
        "",
    )
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert _available_held(payout_player) == (8_000, 2_000)  # held, not voided

    _heal(fake_adyen, settings)
    fake_adyen.routes["/transfers/TR-1"] = (200, {"id": "TR-1", "status": "booked"})
    finding = payout_attempt_status_check(attempt_id=attempt.pk)

    assert finding.outcome == "paid", finding
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert latest_attempt(withdrawal).provider_reference == "TR-1"
    assert fake_adyen.created("/transfers") == 1
    assert {r["headers"].get("Idempotency-Key") for r in fake_adyen.requests} == {
        attempt.idempotency_key,
        None,  # the GET /transfers/TR-1
    }
    assert payout_attempt_status_check(attempt_id=attempt.pk).outcome == (
        "settled_meanwhile"
    )
    _booked_twice(brand, withdrawal)
    assert _available_held(payout_player) == (8_000, 0)
    assert withdrawal.attempts.count() == 1
    assert ledger_invariants_check(tenant_id=payout_player.tenant_id) == []


def test_a_payout_whose_record_was_lost_after_adyen_took_it_is_recovered_from_adyen(
    brand, payout_player, fake_adyen, monkeypatch
):
    """Adyen made the transfer, then the worker died before recording its id. The
    attempt stays open with the funds held; asking Adyen again with the attempt's
    key gets the same transfer back (never a second one), and its status pays the
    withdrawal once."""

    def killed(**kwargs):
        raise SystemExit("killed after the PSP call, before the commit")

    monkeypatch.setattr(withdrawals, "payout_attempt_provider_reference_set", killed)
    with pytest.raises(SystemExit):
        _payout_sent(payout_player)
    monkeypatch.undo()
    withdrawal = Withdrawal.objects.get(player=payout_player)
    attempt = latest_attempt(withdrawal)

    assert (attempt.state, attempt.provider_reference) == (PayoutAttempt.State.SENT, "")
    assert fake_adyen.created("/transfers") == 1
    assert _available_held(payout_player) == (8_000, 2_000)

    fake_adyen.routes["/transfers/TR-1"] = (200, {"id": "TR-1", "status": "booked"})
    finding = payout_attempt_status_check(attempt_id=attempt.pk)

    assert finding.outcome == "paid", finding
    assert fake_adyen.created("/transfers") == 1  # the same transfer, asked again
    _booked_twice(brand, withdrawal)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert _available_held(payout_player) == (8_000, 0)
    assert ledger_invariants_check(tenant_id=payout_player.tenant_id) == []


def test_a_lost_payout_answer_is_not_sent_again_once_adyens_key_has_expired(
    brand, payout_player, fake_adyen, settings
):
    """Past Adyen's idempotency window a second send could pay twice: the attempt
    stays unknown with its funds held, for an operator to look up."""
    from datetime import timedelta

    from common import clock

    fake_adyen.fail_with_status = 500
    withdrawal = _payout_sent(payout_player)
    attempt = latest_attempt(withdrawal)
    PayoutAttempt.objects.filter(pk=attempt.pk).update(
        created_at=clock.now() - timedelta(days=8)
    )
    fake_adyen.heal()

    finding = payout_attempt_status_check(attempt_id=attempt.pk)

    assert finding.outcome == "unknown_no_reference", finding
    assert fake_adyen.created("/transfers") == 0
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.UNKNOWN
    assert _available_held(payout_player) == (8_000, 2_000)


def test_a_refusal_of_the_re_sent_payout_is_not_taken_for_the_payouts_outcome(
    brand, payout_player, fake_adyen
):
    """A 4xx to the re-sent request may be Adyen still processing the first one
    under that key: nobody guesses, the funds stay held and the next run asks
    again."""
    fake_adyen.fail_with_status = 500
    withdrawal = _payout_sent(payout_player)
    attempt = latest_attempt(withdrawal)
    fake_adyen.heal()
    fake_adyen.status, fake_adyen.body = 422, {"errorCode": "704", "status": 422}

    finding = payout_attempt_status_check(attempt_id=attempt.pk)

    assert finding.outcome == "error", finding
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.UNKNOWN
    assert _available_held(payout_player) == (8_000, 2_000)

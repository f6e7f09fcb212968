"""Withdrawals routed to Adyen are paid through the Transfers API; the transfer
webhook settles them, and a declined transfer follows the brand's retry policy."""

import pytest

from payments.exceptions import ProviderNotConfigured
from payments.models import PaymentRoute, WebhookInbox
from payments.simulator.adyen import deliver_transfer_update, transfer_update
from payments.withdrawals.services import (
    payout_dispatch,
    payout_retry,
    withdrawal_review_approve,
)
from tests.adyen.conftest import adyen_psp_config
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    policy_set,
    verified_player,
    withdrawal_requested,
)
from wallet.exceptions import PaymentRetryLimitExceeded
from wallet.models import PayoutAttempt, Withdrawal
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(fake_adyen):
    config = adyen_psp_config()
    PaymentRoute.objects.create(
        tenant=config.tenant, deposit_provider="adyen", payout_provider="adyen"
    )
    fake_adyen.status, fake_adyen.body = 202, {"id": "TR-1", "status": "received"}
    return config


@pytest.fixture
def player(config):
    return verified_player(tenant=config.tenant, balance_minor=10_000)


def balances(player):
    [balance] = balance_list(player=player)
    return balance.available_minor, balance.held_minor


def sent_to_adyen(player, amount_minor=2_000):
    withdrawal = withdrawal_requested(player, amount_minor)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    payout_dispatch(attempt_id=withdrawal.attempts.get().pk)
    withdrawal.refresh_from_db()
    return withdrawal


def transfer(config, withdrawal, status, *, transfer_id=None, sequence_number=2):
    attempt = latest_attempt(withdrawal)
    response = deliver_transfer_update(
        config=config,
        document=transfer_update(
            config=config,
            transfer_id=transfer_id or attempt.provider_reference,
            reference=f"withdrawal:{withdrawal.pk}:attempt:{attempt.pk}",
            amount_minor=withdrawal.amount_minor,
            currency=withdrawal.currency,
            status=status,
            reason="refusedByCounterpartyBank" if status == "failed" else "approved",
            sequence_number=sequence_number,
        ),
    )
    withdrawal.refresh_from_db()
    return response


def test_payout_is_a_transfer_to_the_players_iban_with_the_attempt_key(
    config, player, fake_adyen
):
    withdrawal = sent_to_adyen(player)
    attempt = latest_attempt(withdrawal)
    [sent] = fake_adyen.requests
    assert sent["path"] == "/transfers"
    assert sent["headers"]["Idempotency-Key"] == attempt.idempotency_key
    assert sent["json"]["category"] == "bank"
    assert sent["json"]["amount"] == {"currency": "EUR", "value": 2000}
    assert sent["json"]["counterparty"]["bankAccount"]["accountIdentification"] == {
        "type": "iban",
        "iban": "DE89370400440532013000",
    }
    assert (attempt.provider, attempt.state, attempt.provider_reference) == (
        "adyen",
        PayoutAttempt.State.SENT,
        "TR-1",
    )
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert balances(player) == (8_000, 2_000)


def test_booked_transfer_pays_the_withdrawal_once(config, player):
    withdrawal = sent_to_adyen(player)
    assert transfer(config, withdrawal, "authorised").status_code == 200
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert transfer(config, withdrawal, "booked", sequence_number=3).status_code == 200
    assert transfer(config, withdrawal, "booked", sequence_number=3).status_code == 200
    assert withdrawal.state == Withdrawal.State.PAID
    assert balances(player) == (8_000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []
    assert WebhookInbox.objects.filter(status="duplicate").count() == 1


def test_declined_transfer_is_payout_failed_and_follows_the_retry_policy(
    config, player, fake_adyen, django_capture_on_commit_callbacks
):
    policy_set(config.tenant, payout_retry_limit=1, payout_cooldown_seconds=0)
    withdrawal = sent_to_adyen(player)
    transfer(config, withdrawal, "failed")
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert balances(player) == (8_000, 2_000)  # still held

    fake_adyen.body = {"id": "TR-2", "status": "received"}
    with django_capture_on_commit_callbacks(execute=True):
        payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)
    withdrawal.refresh_from_db()
    retry = latest_attempt(withdrawal)
    assert (retry.number, retry.provider_reference) == (2, "TR-2")
    assert len({r["headers"]["Idempotency-Key"] for r in fake_adyen.requests}) == 2

    transfer(config, withdrawal, "failed")
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    with pytest.raises(PaymentRetryLimitExceeded):
        payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)
    assert withdrawal.attempts.count() == 2
    assert balances(player) == (8_000, 2_000)


def test_late_update_of_an_earlier_attempt_does_not_settle_the_retry(
    config, player, fake_adyen, django_capture_on_commit_callbacks
):
    policy_set(config.tenant, payout_retry_limit=3, payout_cooldown_seconds=0)
    withdrawal = sent_to_adyen(player)
    transfer(config, withdrawal, "failed")
    fake_adyen.body = {"id": "TR-2", "status": "received"}
    with django_capture_on_commit_callbacks(execute=True):
        payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)
    # TR-1 (the first, failed attempt) reports "booked" late: attempt 1 is closed.
    transfer(config, withdrawal, "booked", transfer_id="TR-1", sequence_number=9)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.SENT


def test_transfer_refused_synchronously_is_payout_failed(config, player, fake_adyen):
    fake_adyen.status, fake_adyen.body = (
        422,
        {"errorCode": "30_112", "message": "Insufficient balance"},
    )
    withdrawal = sent_to_adyen(player)
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.FAILED
    assert balances(player) == (8_000, 2_000)


def test_adyen_not_answering_leaves_the_payout_pending_with_funds_held(
    config, player, fake_adyen
):
    fake_adyen.status, fake_adyen.body = 503, {}
    withdrawal = sent_to_adyen(player)
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.UNKNOWN
    assert balances(player) == (8_000, 2_000)


def test_payout_routed_to_adyen_without_adyen_config_fails_without_sending(fake_adyen):
    player = verified_player(balance_minor=10_000)
    PaymentRoute.objects.create(tenant=player.tenant, payout_provider="adyen")
    withdrawal = sent_to_adyen(player)
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert fake_adyen.requests == []
    assert (
        latest_attempt(withdrawal).failure_reason
        == ProviderNotConfigured.default_message
    )


def test_without_a_route_payouts_stay_manual(player, fake_adyen):
    PaymentRoute.objects.all().delete()
    withdrawal = sent_to_adyen(player)
    assert latest_attempt(withdrawal).provider == "manual"
    assert fake_adyen.requests == []


def test_a_transfer_returned_after_booked_re_credits_the_player_once(config, player):
    """Issue 8, defect 5: a return after ``booked`` was taken for progress and the
    player was never re-credited."""
    withdrawal = sent_to_adyen(player)
    transfer(config, withdrawal, "booked", sequence_number=3)
    assert balances(player) == (8_000, 0)
    assert (
        transfer(config, withdrawal, "returned", sequence_number=4).status_code == 200
    )
    assert (
        transfer(config, withdrawal, "returned", sequence_number=4).status_code == 200
    )
    assert withdrawal.state == Withdrawal.State.RETURNED
    assert balances(player) == (10_000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []

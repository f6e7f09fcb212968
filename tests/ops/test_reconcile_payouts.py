"""``manage.py reconcile_payouts``: open payouts are asked about (Adyen transfers),
known outcomes applied through the services the transfer webhook uses, manual ones
listed, unknown ones left with their funds held. Never pays or voids twice."""

from unittest import mock

import pytest
from django.core.management import CommandError

from payments.config.services import psp_config_ensure_simulated
from payments.models import PaymentRoute
from payments.reconciliation import payouts_reconcile
from payments.withdrawals.services import (
    payout_dispatch,
    payout_retry,
    withdrawal_review_approve,
)
from tests.adyen.factories import adyen_psp_config
from tests.ops.conftest import run, run_alerting, run_failing
from tests.payments.factories import completed_deposit
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    policy_set,
    verified_player,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet.models import Hold, JournalTransaction, PayoutAttempt, Withdrawal
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)
from wallet.services import withdrawal_payout_succeeded

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture
def config(fake_adyen_routes):
    config = adyen_psp_config()
    PaymentRoute.objects.create(
        tenant=config.tenant, deposit_provider="adyen", payout_provider="adyen"
    )
    fake_adyen_routes.routes["/transfers"] = (202, {"id": "TR-1", "status": "received"})
    return config


@pytest.fixture
def player(config):
    player = verified_player(tenant=config.tenant, balance_minor=0)
    # A deposit behind the money (reconcile is clean), by bank transfer: not
    # refundable, so the closed loop pays the whole withdrawal out to the bank.
    completed_deposit(player, 10_000, provider="manual")
    return player


def balances(player):
    [balance] = balance_list(player=player)
    return balance.available_minor, balance.held_minor


def sent_to_adyen(player, amount_minor=2_000):
    withdrawal = withdrawal_requested(player, amount_minor)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    payout_dispatch(attempt_id=withdrawal.attempts.get().pk)
    withdrawal.refresh_from_db()
    return withdrawal


def transfer_says(fake, status, transfer_id="TR-1", reason="approved"):
    fake.routes[f"/transfers/{transfer_id}"] = (
        200,
        {
            "id": transfer_id,
            "status": status,
            "reason": reason,
            "direction": "outgoing",
        },
    )


def test_booked_transfer_pays_the_withdrawal_and_a_second_run_moves_nothing(
    fake_adyen_routes, player, clock
):
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "booked")

    first = run("reconcile_payouts")
    second = run("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert withdrawal.hold.state == Hold.State.POSTED
    assert balances(player) == (8_000, 0)
    assert f"PAID payout {withdrawal.pk}" in first
    assert "Payouts (all tenants): 1 examined; paid 1." in first
    assert "0 examined; nothing to do." in second
    posts = JournalTransaction.objects.filter(
        tenant_id=player.tenant_id, kind=JournalTransaction.Kind.WITHDRAWAL_POST
    )
    assert posts.count() == 1
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []
    assert payments_invariants_check(tenant_id=player.tenant_id) == []


def test_declined_transfer_is_payout_failed_with_funds_held_and_retryable(
    fake_adyen_routes, player, clock
):
    policy_set(player.tenant, payout_retry_limit=1, payout_cooldown_seconds=0)
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "refused", reason="refusedByCounterpartyBank")

    out = run("reconcile_payouts")
    run("reconcile_payouts")

    withdrawal.refresh_from_db()
    attempt = latest_attempt(withdrawal)
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert attempt.state == PayoutAttempt.State.FAILED
    assert "refusedByCounterpartyBank" in attempt.failure_reason
    assert balances(player) == (8_000, 2_000)
    assert "failed 1." in out
    retry = payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)
    assert retry.number == 2


def test_transfer_still_in_progress_stays_pending(fake_adyen_routes, player, clock):
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "authorised")

    out = run("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert balances(player) == (8_000, 2_000)
    assert "STILL_PENDING" in out
    assert "PSP says authorised; funds stay held" in out


def test_adyen_not_answering_leaves_the_payout_as_it_is(
    fake_adyen_routes, player, clock
):
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    fake_adyen_routes.routes["/transfers/TR-1"] = (503, {"status": 503})

    out = run("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.SENT
    assert "unreachable 1." in out


def test_unknown_outcome_without_a_transfer_id_is_recovered_by_asking_adyen_again(
    fake_adyen_routes, player
):
    """Adyen's answer to the transfer was lost: the run sends the attempt's request
    again with its own idempotency key (Adyen answers with the transfer it made, or
    makes it now), records the id and asks its status."""
    fake_adyen_routes.routes["/transfers"] = (503, {"status": 503})
    withdrawal = sent_to_adyen(player)
    attempt = latest_attempt(withdrawal)
    assert attempt.state == PayoutAttempt.State.UNKNOWN
    fake_adyen_routes.routes["/transfers"] = (202, {"id": "TR-1", "status": "received"})
    transfer_says(fake_adyen_routes, "booked")

    out = run("reconcile_payouts")  # unknown outcomes are looked at at any age

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert balances(player) == (8_000, 0)
    assert f"PAID payout {withdrawal.pk}" in out
    sent = [r for r in fake_adyen_routes.requests if r["path"] == "/transfers"]
    assert {r["headers"]["Idempotency-Key"] for r in sent} == {attempt.idempotency_key}


def test_unknown_outcome_without_a_transfer_id_past_adyens_window_is_for_an_operator(
    fake_adyen_routes, player, clock
):
    fake_adyen_routes.routes["/transfers"] = (503, {"status": 503})
    withdrawal = sent_to_adyen(player)
    attempt = latest_attempt(withdrawal)
    assert attempt.state == PayoutAttempt.State.UNKNOWN
    # Past Adyen's idempotency window a second send could pay twice: not sent.
    clock.advance(seconds=7 * 24 * HOUR)

    out = run_alerting("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert balances(player) == (8_000, 2_000)
    assert "UNKNOWN_NO_REFERENCE" in out
    assert f"withdrawal:{withdrawal.pk}:attempt:{attempt.pk}" in out
    assert [r["path"] for r in fake_adyen_routes.requests] == ["/transfers"]


def test_dry_run_reports_the_outcome_and_changes_nothing(
    fake_adyen_routes, player, clock
):
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "booked")

    out = run("reconcile_payouts", "--dry-run")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert balances(player) == (8_000, 2_000)
    assert f"DRY RUN PAID payout {withdrawal.pk}" in out


def test_recently_sent_payout_is_not_asked_about(fake_adyen_routes, player, clock):
    sent_to_adyen(player)
    clock.advance(seconds=30 * 60)

    out = run("reconcile_payouts")

    assert "0 examined" in out
    assert ("GET", "/transfers/TR-1") not in fake_adyen_routes.asked()


def test_payout_the_webhook_settled_meanwhile_is_not_settled_again(
    fake_adyen_routes, player, clock
):
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "booked")
    attempt = PayoutAttempt.objects.get(withdrawal=withdrawal)
    withdrawal_payout_succeeded(
        attempt=attempt, actor=OPERATOR, provider_reference="TR-1"
    )
    # As if the webhook landed between the question and the answer: the attempt
    # was listed before it was settled.
    [finding] = payouts_reconcile_with_stale_listing(attempt)

    assert finding.outcome == "settled_meanwhile"
    assert balances(player) == (8_000, 0)


def test_manual_payout_is_listed_for_an_operator(clock):
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    clock.advance(seconds=2 * HOUR)

    out = run("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert f"AWAITING_OPERATOR payout {withdrawal.pk}" in out
    assert "mark it paid or failed in the admin" in out


def test_attempt_never_sent_is_dispatched(clock):
    player = verified_player()
    withdrawal = withdrawal_requested(player)
    # In a test the dispatch after commit never runs: as if the process had died.
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.PENDING
    clock.advance(seconds=2 * HOUR)

    out = run("reconcile_payouts")

    attempt = latest_attempt(withdrawal)
    assert attempt.state == PayoutAttempt.State.SENT
    assert attempt.provider_reference == f"manual:{attempt.pk}"
    assert f"DISPATCHED payout {withdrawal.pk}" in out


def test_tenant_option_leaves_other_brands_alone(fake_adyen_routes, player, clock):
    other = verified_player()
    other_withdrawal = withdrawal_payout_pending(other)
    sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)
    transfer_says(fake_adyen_routes, "booked")

    out = run("reconcile_payouts", "--tenant", player.tenant.slug)

    other_withdrawal.refresh_from_db()
    assert f"(tenant {player.tenant.slug}): 1 examined; paid 1." in out
    assert f"payout {other_withdrawal.pk}" not in out


def test_unknown_tenant_is_an_error():
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        run("reconcile_payouts", "--tenant", "nope")


def test_negative_cut_off_is_refused():
    _, error = run_failing("reconcile_payouts", "--older-than-minutes", "-5")
    assert error == "--older-than-minutes must be 0 or more."


def payouts_reconcile_with_stale_listing(attempt):
    """Run the reconciliation over a listing taken before ``attempt`` was settled."""
    with mock.patch(
        "payments.reconciliation.payout_attempt_open_list", return_value=[attempt]
    ):
        return payouts_reconcile().findings


def test_simulated_adyen_payout_is_not_asked_about(simulator, fake_adyen_routes, clock):
    player = verified_player()
    PaymentRoute.objects.create(tenant=player.tenant, payout_provider="adyen")
    psp_config_ensure_simulated(tenant=player.tenant, provider="adyen")
    withdrawal = sent_to_adyen(player)
    clock.advance(seconds=2 * HOUR)

    out = run("reconcile_payouts")

    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert f"SIMULATED payout {withdrawal.pk}" in out
    assert fake_adyen_routes.requests == []


def test_operator_settles_an_unknown_adyen_payout_by_asking_not_by_marking(
    client, fake_adyen_routes, config, player
):
    """Issue 8, defect 1, from the admin: "mark failed" on a PSP payout is refused
    (a retry would send a second transfer); "Ask the PSP" runs the code
    reconcile_payouts runs and records Adyen's answer."""
    from tests.factories import OperatorFactory

    withdrawal = sent_to_adyen(player)
    attempt = latest_attempt(withdrawal)
    client.force_login(OperatorFactory(tenants=[config.tenant]))
    base = f"/admin/wallet/withdrawal/{withdrawal.pk}"

    client.post(f"{base}/mark-failed/", {"attempt": attempt.pk, "reason": "guess"})
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING

    transfer_says(fake_adyen_routes, "booked")
    response = client.post(f"{base}/ask-psp/", {"attempt": attempt.pk})
    assert response.status_code == 302
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert balances(player) == (8_000, 0)
    assert ("GET", "/transfers/TR-1") in fake_adyen_routes.asked()

"""The withdrawal state machine and its ledger effects, through the services."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from common.actors import Actor
from common.errors import IdempotencyKeyReuseConflict, IllegalStateTransition
from payments.withdrawals.manual import (
    manual_payout_mark_failed,
    manual_payout_mark_paid,
)
from payments.withdrawals.services import payout_dispatch, withdrawal_review_approve
from tests.withdrawals.factories import (
    DESTINATION,
    IBAN,
    OPERATOR,
    latest_attempt,
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet.models import Account, Hold, JournalTransaction, PayoutAttempt, Withdrawal
from wallet.selectors import account_balance, balance_list, ledger_invariants_check
from wallet.services import (
    system_account_get_or_create,
    withdrawal_cancel,
    withdrawal_reject,
    withdrawal_request,
)

pytestmark = pytest.mark.django_db


def balances(player) -> tuple[int, int]:
    (balance,) = balance_list(player=player)
    return balance.available_minor, balance.held_minor


def audit_count(withdrawal, action: str) -> int:
    return AuditEvent.objects.filter(
        target_type="wallet.Withdrawal", target_id=str(withdrawal.pk), action=action
    ).count()


def test_request_moves_the_amount_from_available_to_held():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_500)
    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert balances(player) == (7_500, 2_500)
    assert withdrawal.hold.state == Hold.State.PENDING
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_destination_is_stored_encrypted_and_shown_masked_never_in_audit():
    player = verified_player()
    withdrawal = withdrawal_requested(player)
    assert withdrawal.destination_masked == "DE89 •••• 3000"
    assert IBAN not in withdrawal.destination_encrypted
    audit_text = str(list(AuditEvent.objects.values_list("before", "after", "reason")))
    assert IBAN not in audit_text
    assert "DE89 •••• 3000" in audit_text


def test_reject_voids_the_hold_back_to_available():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_500)
    withdrawal, changed = withdrawal_reject(
        withdrawal=withdrawal, actor=OPERATOR, reason="documents unclear"
    )
    assert changed is True
    assert withdrawal.state == Withdrawal.State.REJECTED
    assert withdrawal.rejection_reason == "documents unclear"
    assert balances(player) == (10_000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_cancel_while_requested_returns_the_funds():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_500)
    withdrawal, _ = withdrawal_cancel(
        withdrawal=withdrawal, actor=Actor.for_player(player)
    )
    assert withdrawal.state == Withdrawal.State.CANCELED
    assert balances(player) == (10_000, 0)


def test_cancel_after_approval_is_an_illegal_transition():
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    with pytest.raises(IllegalStateTransition) as refused:
        withdrawal_cancel(withdrawal=withdrawal, actor=Actor.for_player(player))
    assert refused.value.details == {
        "entity": "withdrawal",
        "from_state": "payout_pending",
        "to_state": "canceled",
    }


def test_approval_sends_the_payout_to_the_manual_provider_which_waits():
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player, 2_000)
    attempt = latest_attempt(withdrawal)
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert attempt.provider == "manual"
    assert attempt.state == PayoutAttempt.State.SENT
    assert attempt.provider_reference == f"manual:{attempt.pk}"
    assert attempt.idempotency_key == f"withdrawal:{withdrawal.pk}:payout:1"
    assert balances(player) == (8_000, 2_000)


def test_mark_paid_posts_the_hold_to_withdrawals_in_flight():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    withdrawal, changed = manual_payout_mark_paid(
        attempt=latest_attempt(withdrawal), actor=OPERATOR, bank_reference="BANK-42"
    )
    assert changed is True
    assert withdrawal.state == Withdrawal.State.PAID
    assert balances(player) == (8_000, 0)
    in_flight = system_account_get_or_create(
        tenant_id=player.tenant_id,
        kind=Account.Kind.WITHDRAWALS_IN_FLIGHT,
        currency="EUR",
        provider="manual",
    )
    assert account_balance(account=in_flight) == 2_000
    assert latest_attempt(withdrawal).provider_reference == "BANK-42"
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_mark_paid_needs_a_bank_reference():
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    with pytest.raises(Exception) as refused:
        manual_payout_mark_paid(
            attempt=latest_attempt(withdrawal), actor=OPERATOR, bank_reference=" "
        )
    assert refused.value.code == "VALIDATION_ERROR"


def test_mark_failed_keeps_the_funds_held():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_failed_once(player, 2_000)
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert latest_attempt(withdrawal).failure_reason == "bank bounced"
    assert balances(player) == (8_000, 2_000)


def test_rejecting_a_failed_payout_returns_the_funds():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_failed_once(player, 2_000)
    withdrawal, _ = withdrawal_reject(
        withdrawal=withdrawal, actor=OPERATOR, reason="account closed"
    )
    assert withdrawal.state == Withdrawal.State.REJECTED
    assert balances(player) == (10_000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_rejecting_a_paid_withdrawal_is_refused_with_both_states():
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    manual_payout_mark_paid(
        attempt=latest_attempt(withdrawal), actor=OPERATOR, bank_reference="B-1"
    )
    with pytest.raises(IllegalStateTransition) as refused:
        withdrawal_reject(withdrawal=withdrawal, actor=OPERATOR, reason="too late")
    assert refused.value.http_status == 409
    assert refused.value.details["from_state"] == "paid"
    assert refused.value.details["to_state"] == "rejected"


# --- idempotency: one ledger effect and one audit row per action -----------------------


def test_same_key_and_request_returns_the_first_withdrawal_and_holds_once():
    player = verified_player(balance_minor=10_000)
    first = withdrawal_requested(player, 2_000, key="k-1")
    again, created = withdrawal_request(
        player=player,
        amount_minor=2_000,
        currency="EUR",
        destination=DESTINATION,
        idempotency_key="k-1",
        actor=Actor.for_player(player),
    )
    assert created is False
    assert again.pk == first.pk
    assert balances(player) == (8_000, 2_000)
    assert audit_count(first, "withdrawal.requested") == 1


def test_same_key_with_another_amount_is_a_conflict():
    player = verified_player()
    withdrawal_requested(player, 2_000, key="k-1")
    with pytest.raises(IdempotencyKeyReuseConflict):
        withdrawal_request(
            player=player,
            amount_minor=3_000,
            currency="EUR",
            destination=DESTINATION,
            idempotency_key="k-1",
            actor=Actor.for_player(player),
        )


def test_approving_twice_starts_one_payout_and_audits_once():
    player = verified_player()
    withdrawal = withdrawal_requested(player)
    _, first = withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    _, second = withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert (first, second) == (True, False)
    assert withdrawal.attempts.count() == 1
    assert audit_count(withdrawal, "withdrawal.approved") == 1


def test_rejecting_twice_voids_once_and_audits_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    withdrawal_reject(withdrawal=withdrawal, actor=OPERATOR, reason="no")
    _, changed = withdrawal_reject(withdrawal=withdrawal, actor=OPERATOR, reason="no")
    assert changed is False
    assert balances(player) == (10_000, 0)
    assert (
        JournalTransaction.objects.filter(
            kind=JournalTransaction.Kind.WITHDRAWAL_VOID
        ).count()
        == 1
    )
    assert audit_count(withdrawal, "withdrawal.rejected") == 1


def test_canceling_twice_voids_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    actor = Actor.for_player(player)
    withdrawal_cancel(withdrawal=withdrawal, actor=actor)
    _, changed = withdrawal_cancel(withdrawal=withdrawal, actor=actor)
    assert changed is False
    assert audit_count(withdrawal, "withdrawal.canceled") == 1
    assert balances(player) == (10_000, 0)


def test_marking_paid_twice_posts_once_and_audits_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    attempt = latest_attempt(withdrawal)
    manual_payout_mark_paid(attempt=attempt, actor=OPERATOR, bank_reference="B-1")
    _, changed = manual_payout_mark_paid(
        attempt=attempt, actor=OPERATOR, bank_reference="B-1"
    )
    assert changed is False
    assert (
        JournalTransaction.objects.filter(
            kind=JournalTransaction.Kind.WITHDRAWAL_POST
        ).count()
        == 1
    )
    assert audit_count(withdrawal, "withdrawal.paid") == 1


def test_marking_failed_twice_audits_once():
    player = verified_player()
    withdrawal = withdrawal_payout_failed_once(player)
    _, changed = manual_payout_mark_failed(
        attempt=latest_attempt(withdrawal), actor=OPERATOR, reason="bank bounced"
    )
    assert changed is False
    assert audit_count(withdrawal, "withdrawal.payout_failed") == 1


def test_dispatching_an_attempt_twice_sends_it_once(monkeypatch):
    player = verified_player()
    withdrawal = withdrawal_requested(player)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    attempt = latest_attempt(withdrawal)
    sent = []
    from payments.providers.manual.provider import ManualProvider

    original = ManualProvider.send_payout
    monkeypatch.setattr(
        ManualProvider,
        "send_payout",
        lambda self, request: sent.append(request) or original(self, request),
    )
    payout_dispatch(attempt_id=attempt.pk)
    payout_dispatch(attempt_id=attempt.pk)
    assert len(sent) == 1
    assert sent[0].idempotency_key == attempt.idempotency_key
    assert sent[0].destination["iban"] == IBAN


def test_approval_dispatches_only_after_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    player = verified_player()
    withdrawal = withdrawal_requested(player)
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        transaction.atomic(),
    ):
        withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.PENDING
    assert len(callbacks) == 1
    callbacks[0]()
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.SENT

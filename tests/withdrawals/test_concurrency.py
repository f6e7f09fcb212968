"""Races with real threads and commits on PostgreSQL: limits and state changes hold
when requests arrive at the same moment."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from common.actors import Actor
from common.errors import ApplicationError
from payments.withdrawals.manual import manual_payout_mark_failed
from payments.withdrawals.services import (
    payout_retry,
    withdrawal_review_approve,
    withdrawal_submit,
)
from tests.withdrawals.factories import (
    DESTINATION,
    OPERATOR,
    latest_attempt,
    policy_set,
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_requested,
)
from wallet.models import Withdrawal
from wallet.selectors import balance_list, ledger_invariants_check
from wallet.services import withdrawal_reject

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls: Callable[[], object]) -> list:
    """Run the calls in threads released together; each result or the
    ApplicationError it raised, in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except ApplicationError as error:
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def submit(player, amount_minor: int, key: str):
    def call():
        with transaction.atomic(durable=True):
            return withdrawal_submit(
                player=player,
                amount_minor=amount_minor,
                currency="EUR",
                destination=DESTINATION,
                idempotency_key=key,
            )

    return call


def codes(results) -> list[str]:
    return sorted(r.code if isinstance(r, ApplicationError) else "ok" for r in results)


def test_two_withdrawals_that_together_exceed_the_balance_one_succeeds():
    player = verified_player(balance_minor=10_000)
    results = race(submit(player, 6_000, "a"), submit(player, 6_000, "b"))
    assert codes(results) == ["INSUFFICIENT_FUNDS", "ok"]
    (balance,) = balance_list(player=player)
    assert (balance.available_minor, balance.held_minor) == (4_000, 6_000)
    assert Withdrawal.objects.count() == 1
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_one_idempotency_key_sent_twice_at_once_makes_one_withdrawal():
    player = verified_player(balance_minor=10_000)
    results = race(submit(player, 2_000, "same"), submit(player, 2_000, "same"))
    assert codes(results) == ["ok", "ok"]
    assert {withdrawal.pk for withdrawal, _ in results} == {Withdrawal.objects.get().pk}
    assert balance_list(player=player)[0].held_minor == 2_000


def test_the_daily_limit_holds_under_concurrent_requests():
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 5_000})
    results = race(submit(player, 3_000, "a"), submit(player, 3_000, "b"))
    assert codes(results) == ["LIMIT_EXCEEDED", "ok"]


def test_the_velocity_limit_holds_under_concurrent_requests():
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, withdrawal_velocity_max_requests=1)
    results = race(*(submit(player, 1_000, f"k{n}") for n in range(3)))
    assert codes(results) == [
        "VELOCITY_LIMIT_EXCEEDED",
        "VELOCITY_LIMIT_EXCEEDED",
        "ok",
    ]


def test_approve_and_reject_at_the_same_time_give_one_outcome():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    operator_a = Actor(type=Actor.USER, label="a")
    operator_b = Actor(type=Actor.USER, label="b")

    def approve():
        with transaction.atomic(durable=True):
            return withdrawal_review_approve(withdrawal=withdrawal, actor=operator_a)

    def reject():
        with transaction.atomic(durable=True):
            return withdrawal_reject(
                withdrawal=withdrawal, actor=operator_b, reason="risk"
            )

    results = race(approve, reject)
    assert codes(results) == ["ILLEGAL_TRANSACTION_STATE_TRANSITION", "ok"]
    withdrawal.refresh_from_db()
    decided = AuditEvent.objects.filter(
        target_id=str(withdrawal.pk),
        action__in=["withdrawal.approved", "withdrawal.rejected"],
    )
    assert decided.count() == 1
    (balance,) = balance_list(player=player)
    outcome = (withdrawal.state, balance.available_minor, balance.held_minor)
    assert outcome in {
        (Withdrawal.State.REJECTED, 10_000, 0),
        (Withdrawal.State.PAYOUT_PENDING, 8_000, 2_000),
    }
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_two_operators_approving_at_once_give_one_payout_and_one_audit_row():
    withdrawal = withdrawal_requested(verified_player())

    def approve():
        with transaction.atomic(durable=True):
            return withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)

    results = race(approve, approve)
    assert sorted(changed for _, changed in results) == [False, True]
    assert withdrawal.attempts.count() == 1
    assert (
        AuditEvent.objects.filter(
            target_id=str(withdrawal.pk), action="withdrawal.approved"
        ).count()
        == 1
    )


def test_five_concurrent_retries_with_limit_three_never_exceed_it(clock):
    player = verified_player()
    policy_set(player.tenant, payout_retry_limit=3, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    failed = latest_attempt(withdrawal)

    def retry():
        return payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)

    results = race(*(retry for _ in range(5)))
    retries = withdrawal.attempts.count() - 1
    assert retries <= 3
    # The first retry moves the withdrawal to payout_pending; the others find it so.
    assert retries == 1
    assert codes(results).count("ok") == 1
    assert latest_attempt(withdrawal).pk != failed.pk


def test_concurrent_retries_at_the_limit_edge_make_exactly_one_more_attempt(clock):
    player = verified_player()
    policy_set(player.tenant, payout_retry_limit=3, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    for _ in range(2):
        payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)
        with transaction.atomic():
            manual_payout_mark_failed(
                attempt=latest_attempt(withdrawal), actor=OPERATOR, reason="bounced"
            )

    def retry():
        return payout_retry(withdrawal=withdrawal, actor=OPERATOR, by_player=False)

    race(*(retry for _ in range(5)))
    assert withdrawal.attempts.count() == 4

"""Races on PostgreSQL with real threads, real connections and real commits."""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from common.errors import ApplicationError
from tests.factories import PlayerFactory, fund
from tests.ledger.helpers import SYSTEM, available_of, debit, held_of, transfer
from wallet import services
from wallet.models import Account, Hold, JournalTransaction
from wallet.selectors import ledger_invariants_check

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call in its own thread, all released at once; return each result or
    the exception it raised, in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 (collected for the assertions)
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _outcome(result: object) -> str:
    if isinstance(result, ApplicationError):
        return result.code
    if isinstance(result, Exception):
        return repr(result)
    return "ok"


def test_twenty_concurrent_debits_against_a_balance_covering_ten():
    player = PlayerFactory()
    fund(player, 1000)
    results = _race(
        [lambda i=i: debit(player, 100, key=f"race-debit:{i}") for i in range(20)]
    )
    assert Counter(map(_outcome, results)) == {"ok": 10, "INSUFFICIENT_FUNDS": 10}
    assert available_of(player) == 0
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_ten_concurrent_calls_with_one_idempotency_key_make_one_posting():
    player = PlayerFactory()

    def deposit():
        return services.player_credit(
            player=player,
            currency="EUR",
            amount_minor=500,
            source_kind=Account.Kind.PSP_CLEARING,
            kind=JournalTransaction.Kind.DEPOSIT,
            idempotency_key="race-deposit",
            actor=SYSTEM,
            provider="stripe",
        )

    results = _race([deposit] * 10)
    assert Counter(map(_outcome, results)) == {"ok": 10}
    assert len({result.transaction_id for result in results}) == 1
    assert sorted(result.replayed for result in results) == [False] + [True] * 9
    assert (
        JournalTransaction.objects.filter(idempotency_key="race-deposit").count() == 1
    )
    assert available_of(player) == 500


def test_concurrent_debits_with_one_key_and_a_balance_for_one_make_one_posting():
    player = PlayerFactory()
    fund(player, 100)
    results = _race([lambda: debit(player, 100, key="race-one")] * 10)
    assert Counter(map(_outcome, results)) == {"ok": 10}
    assert sorted(result.replayed for result in results) == [False] + [True] * 9
    assert available_of(player) == 0


def test_concurrent_post_and_void_of_one_hold_resolve_it_once():
    player = PlayerFactory()
    fund(player, 1000)
    hold = services.hold_place(
        player=player,
        currency="EUR",
        amount_minor=400,
        idempotency_key="race-hold",
        actor=SYSTEM,
    )
    results = _race(
        [
            lambda: services.hold_post(hold=hold, actor=SYSTEM),
            lambda: services.hold_void(hold=hold, actor=SYSTEM),
        ]
    )
    outcomes = sorted(map(_outcome, results))
    assert outcomes == ["ILLEGAL_TRANSACTION_STATE_TRANSITION", "ok"]
    final = Hold.objects.get(pk=hold.pk)
    winner = next(r for r in results if isinstance(r, Hold))
    assert final.state == winner.state
    expected_available = 600 if final.state == Hold.State.POSTED else 1000
    assert (available_of(player), held_of(player)) == (expected_available, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_opposite_transfers_between_two_players_do_not_deadlock():
    alice = PlayerFactory()
    bob = PlayerFactory(tenant=alice.tenant)
    fund(alice, 1000)
    fund(bob, 1000)
    calls = [
        lambda i=i: transfer(
            source=alice if i % 2 else bob,
            destination=bob if i % 2 else alice,
            amount_minor=10,
            key=f"race-transfer:{i}",
        )
        for i in range(12)
    ]
    results = _race(calls)
    assert Counter(map(_outcome, results)) == {"ok": 12}
    assert (available_of(alice), available_of(bob)) == (1000, 1000)
    assert ledger_invariants_check(tenant_id=alice.tenant_id) == []

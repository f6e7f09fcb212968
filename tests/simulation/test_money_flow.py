"""The bounded run of the money-flow simulation (tests/simulation/machine.py).

PostgreSQL only, with real commits: the posting functions, triggers and row locks
are PostgreSQL's, and each rule commits as production does. ``SIMULATION_EXAMPLES``
and ``SIMULATION_STEPS`` raise the budget; ``make soak`` is the long mode."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.simulation.machine import MoneyFlow

EXAMPLES = int(os.environ.get("SIMULATION_EXAMPLES", "20"))
STEPS = int(os.environ.get("SIMULATION_STEPS", "50"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_random_histories_of_the_money_flow_keep_every_invariant():
    started, MoneyFlow.executed_steps = time.monotonic(), 0
    try:
        _run()
    finally:
        elapsed = time.monotonic() - started
        steps = MoneyFlow.executed_steps
        print(
            f"\nsimulation: {EXAMPLES} examples x up to {STEPS} steps: {steps} steps "
            f"in {elapsed:.1f} s = {steps / max(elapsed, 1e-9):.1f} steps/s"
        )


def _run():
    run_state_machine_as_test(
        MoneyFlow,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_history_through_every_payout_outcome():
    """A fixed history the random ones reach only now and then: payouts unknown,
    booked after a lost enqueue and the sweep, returned, refused, retried too soon,
    within and beyond the policy, with a kill switch pulled, and a closed-loop
    approval before the refund window passes. Every invariant after every step."""
    state = MoneyFlow()

    def step(rule, **kwargs):
        getattr(state, rule)(**kwargs)
        state.ledger_agrees_with_the_model()
        state.payments_agree_with_the_model()
        state.every_event_moved_money_at_most_once()

    try:
        first, second = state.seed_withdrawals  # brand a (1 retry), brand b (2)
        player_b = state.seed_players[1]
        step(
            "approve",
            withdrawal=second,
            mode="accept",
            then="nothing",
            refunds="succeeded",
            crash=False,
            fitting=False,
            index=0,
        )
        step("mailbox_delivers", index=0, count=1, again=False, crash=False)
        assert state.model.withdrawals[second.pk].state == "paid"  # refund legs
        step("the_world_changes", change="half a year passes", side=0)
        step(
            "approve",
            withdrawal=first,
            mode="unknown",
            then="booked",
            refunds="nothing",
            crash=False,
            fitting=False,
            index=0,
        )
        assert state.model.withdrawals[first.pk].state == "payout_pending"
        step("mailbox_delivers", index=0, count=1, again=False, crash=True)
        assert state.model.withdrawals[first.pk].state == "payout_pending"
        step("outbox_sweep_runs", mode="accept", then="nothing", refunds="nothing")
        assert state.model.withdrawals[first.pk].state == "paid"
        step("psp_has_more_to_say", index=0, word="transfer returned", now=True)
        assert state.model.withdrawals[first.pk].state == "returned"
        step("mailbox_delivers", index=0, count=1, again=True, crash=False)

        step("withdraw", player=player_b, amount=5_000)
        [third] = [w for w in state.model.withdrawals.values() if w.amount == 5_000]
        step(
            "approve",
            withdrawal=None,
            mode="refuse",
            then="nothing",
            refunds="nothing",
            crash=False,
            fitting=True,
            index=0,
        )
        assert state.model.withdrawals[third.pk].state == "payout_failed"
        step(
            "retry_the_payout",
            withdrawal=None,
            mode="accept",
            then="failed",
            crash=False,
            fitting=True,
            index=0,
        )  # within the cooldown: refused
        step("the_world_changes", change="a minute passes", side=0)
        step("the_world_changes", change="adyen kill switch", side=1)
        step(
            "retry_the_payout",
            withdrawal=None,
            mode="accept",
            then="failed",
            crash=False,
            fitting=True,
            index=0,
        )  # the switch is pulled: refused
        step("the_world_changes", change="adyen kill switch", side=1)
        step(
            "retry_the_payout",
            withdrawal=None,
            mode="accept",
            then="failed",
            crash=True,
            fitting=True,
            index=0,
        )  # the dispatch is lost
        step("outbox_sweep_runs", mode="accept", then="failed", refunds="nothing")
        step("mailbox_delivers", index=0, count=1, again=False, crash=False)
        assert state.model.withdrawals[third.pk].state == "payout_failed"
        assert len(state.model.withdrawals[third.pk].attempts) == 2
        step("the_world_changes", change="a minute passes", side=0)
        step(
            "retry_the_payout",
            withdrawal=None,
            mode="unknown",
            then="failed",
            crash=False,
            fitting=True,
            index=0,
        )
        step("mailbox_delivers", index=0, count=1, again=False, crash=False)
        step("the_world_changes", change="a minute passes", side=0)
        step(
            "retry_the_payout",
            withdrawal=None,
            mode="accept",
            then="booked",
            crash=False,
            fitting=True,
            index=0,
        )  # beyond the policy: refused
        assert len(state.model.withdrawals[third.pk].attempts) == 3
        step("take_back", withdrawal=None, by="operator", fitting=True, index=0)
        assert state.model.withdrawals[third.pk].state == "rejected"
        state.audit_chain_and_reconcile()
    finally:
        state.teardown()

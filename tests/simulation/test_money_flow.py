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

EXAMPLES = int(os.environ.get("SIMULATION_EXAMPLES", "10"))
STEPS = int(os.environ.get("SIMULATION_STEPS", "25"))


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

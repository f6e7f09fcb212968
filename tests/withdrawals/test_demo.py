"""The demo an operator walks through in `make run`, end to end through the admin."""

import pytest
from django.core.management import call_command
from django.test import Client

from payments.demo import seed_withdrawals_demo
from tests.payments.conftest import simulator  # noqa: F401 (fixture)
from wallet.models import Withdrawal
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)

# The demo player's money comes from a deposit paid through the PSP simulator.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simulator")]


def test_the_demo_leaves_a_withdrawal_in_the_queue_and_is_idempotent():
    first = seed_withdrawals_demo()
    second = seed_withdrawals_demo()
    assert first.withdrawal.pk == second.withdrawal.pk
    assert first.withdrawal.state == Withdrawal.State.REQUESTED
    (balance,) = balance_list(player=first.player)
    assert (balance.available_minor, balance.held_minor) == (38_000, 12_000)
    assert payments_invariants_check(tenant_id=first.tenant.pk) == []


def test_the_command_prints_where_to_go(capsys):
    call_command("seed_withdrawals_demo")
    assert "/admin/wallet/withdrawal/" in capsys.readouterr().out


def test_an_operator_can_walk_the_demo_to_the_retry_refusal(clock):
    demo = seed_withdrawals_demo()
    withdrawal = demo.withdrawal
    client = Client()
    client.login(username="payments-operator", password="demo-operator-pass")
    base = f"/admin/wallet/withdrawal/{withdrawal.pk}"
    client.post(f"{base}/approve/")
    messages = []
    for _ in range(3):
        attempt = withdrawal.attempts.order_by("-number").first()
        client.post(
            f"{base}/mark-failed/", {"attempt": attempt.pk, "reason": "bounced"}
        )
        clock.advance(seconds=5)
        response = client.post(f"{base}/retry/", {"attempt": attempt.pk}, follow=True)
        messages.append(response.content.decode())
        (balance,) = balance_list(player=demo.player)
        assert balance.held_minor == 12_000
        assert ledger_invariants_check(tenant_id=demo.tenant.pk) == []
    assert "PAYMENT_RETRY_LIMIT_EXCEEDED" in messages[-1]
    assert withdrawal.attempts.count() == 3

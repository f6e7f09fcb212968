import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.factories import OperatorFactory, PlayerFactory, TenantFactory
from wallet.models import JournalTransaction
from wallet.selectors import balance_list, ledger_invariants_check


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_of_one_adjustment_form_post_once():
    tenant = TenantFactory()
    player = PlayerFactory(tenant=tenant)
    operator = OperatorFactory(tenants=[tenant])
    url = reverse("admin:casino_player_adjust", args=[player.pk])
    form = {
        "direction": "credit",
        "currency": "EUR",
        "amount": "7.00",
        "reason": "raced double click",
        "token": "0123456789abcdef0123456789abcdef",
    }
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit():
        try:
            client = Client()
            client.force_login(operator)
            barrier.wait()
            statuses.append(client.post(url, form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302, 302]
    assert (
        JournalTransaction.objects.filter(description="raced double click").count() == 1
    )
    assert [b.available_minor for b in balance_list(player=player)] == [700]
    assert ledger_invariants_check() == []

"""Two deliveries of one event at the same instant credit once (real threads, real
commits, PostgreSQL row locks)."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from payments.models import WebhookInbox
from tests.factories import PlayerFactory
from tests.payments.conftest import signed_headers, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet.models import Deposit, JournalTransaction
from wallet.selectors import balance_list, ledger_invariants_check

THREADS = 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_credit_once():
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)
    body = json.dumps(stripe_event(deposit, "checkout.session.completed")).encode()
    headers = signed_headers(body, config.webhook_secret())
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []

    def deliver():
        try:
            barrier.wait()
            response = Client().post(
                f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
                data=body,
                content_type="application/json",
                **headers,
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * THREADS
    assert Deposit.objects.get(pk=deposit.pk).state == Deposit.State.COMPLETED
    assert (
        JournalTransaction.objects.filter(
            kind=JournalTransaction.Kind.DEPOSIT, reference=f"deposit:{deposit.pk}"
        ).count()
        == 1
    )
    assert balance_list(player=player)[0].available_minor == 5000
    assert WebhookInbox.objects.filter(status="processed").count() == 1
    assert WebhookInbox.objects.filter(status="duplicate").count() == THREADS - 1
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deposit_requests_with_one_key_make_one_deposit(settings):
    from payments.deposits.services import deposit_start

    settings.PAYMENTS_SIMULATOR_ENABLED = True
    settings.DEBUG = True  # the simulator is routed only with DEBUG on
    from tests.payments.conftest import reload_urls

    reload_urls()
    try:
        player = PlayerFactory()
        barrier = threading.Barrier(4)
        ids: list[int] = []

        def request():
            try:
                barrier.wait()
                deposit, _ = deposit_start(
                    player=player,
                    amount_minor=5000,
                    currency="EUR",
                    idempotency_key="same-key",
                    return_url_for=lambda d: f"http://testserver/deposits/{d.pk}/",
                )
                ids.append(deposit.pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=request) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(ids) == 4
        assert len(set(ids)) == 1
        assert Deposit.objects.count() == 1
    finally:
        settings.PAYMENTS_SIMULATOR_ENABLED = False
        reload_urls()

"""Concurrent writers of one tenant cannot fork its chain (real threads and commits
on PostgreSQL): they insert without a lock, the sealers that run after each commit
take turns on the chain's lock (or skip while another one is at work), and after the
sweep the chain is one gapless, verifiable sequence. Writers of different tenants do
not touch each other's chain."""

import threading

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import audit_record
from audit.verification import audit_chain_verify
from tests.audit.helpers import SYSTEM
from tests.factories import PlayerFactory, TenantFactory, fund

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
EVENTS_EACH = 15


def run_together(*calls) -> list[BaseException]:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def writer(tenant_id: int, label: str):
    def call():
        for number in range(EVENTS_EACH):
            with transaction.atomic(durable=True):
                audit_record(
                    actor=SYSTEM,
                    action="race.event",
                    tenant_id=tenant_id,
                    target_id=f"{label}-{number}",
                )

    return call


def test_concurrent_writers_of_one_tenant_keep_one_gapless_chain():
    tenant = TenantFactory()

    errors = run_together(*(writer(tenant.pk, f"w{n}") for n in range(THREADS)))

    assert errors == []
    audit_seal_pending()  # whatever the after-commit seals skipped
    seqs = list(
        AuditEvent.objects.filter(tenant=tenant)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    # The tenant's own "tenant.created" event, then every writer's.
    assert seqs == list(range(1, 1 + THREADS * EVENTS_EACH + 1))
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert report.events_checked == 1 + THREADS * EVENTS_EACH


def test_money_movements_and_operator_events_racing_share_one_chain():
    tenant = TenantFactory()
    players = [PlayerFactory(tenant=tenant) for _ in range(4)]

    def deposits(player):
        def call():
            for number in range(5):
                fund(player, 100 + number)

        return call

    errors = run_together(
        *(deposits(player) for player in players),
        *(writer(tenant.pk, f"op{n}") for n in range(4)),
    )

    assert errors == []
    audit_seal_pending()  # whatever the after-commit seals skipped
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert report.head_seq == AuditEvent.objects.filter(tenant=tenant).count()
    assert (
        AuditEvent.objects.filter(
            tenant=tenant, action="ledger.transaction_posted"
        ).count()
        >= 4 * 5
    )


def test_writers_of_two_tenants_each_keep_their_own_chain():
    first, second = TenantFactory(), TenantFactory()

    errors = run_together(
        *(writer(first.pk, f"a{n}") for n in range(4)),
        *(writer(second.pk, f"b{n}") for n in range(4)),
    )

    assert errors == []
    audit_seal_pending()  # whatever the after-commit seals skipped
    for tenant in (first, second):
        report = audit_chain_verify(tenant=tenant)
        assert report.ok, report.broken
        assert report.events_checked == 1 + 4 * EVENTS_EACH

"""/health/ (django-health-check) and /metrics (Prometheus) as an operator's
platform team reads them."""

from datetime import timedelta

import pytest
from celery.app.task import Task
from django.core.cache import cache
from django.utils import timezone

from casino.tasks import HEARTBEAT_KEY, worker_heartbeat
from payments.models import WebhookInbox
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit

# The checks run in threads of their own: they see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)


def health(client):
    return client.get("/health/", HTTP_ACCEPT="application/json")


def test_health_is_ok_on_a_fresh_install(client):
    response = health(client)
    assert response.status_code == 200
    body = response.json()
    assert {"Database", "Cache", "Broker", "WorkerHeartbeat", "WebhookBacklog"} <= {
        name.split("(")[0] for name in body
    }


def unapplied_delivery(client, monkeypatch, *, age_seconds: int):
    """A verified delivery whose task message was lost, received ``age`` ago."""
    config = PSPConfigFactory()
    deposit = pending_deposit(PlayerFactory(tenant=config.tenant), 5000)

    def refuse(self, *args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(Task, "apply_async", refuse)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    monkeypatch.undo()
    WebhookInbox.objects.update(
        received_at=timezone.now() - timedelta(seconds=age_seconds)
    )


def test_health_fails_when_a_verified_webhook_waits_too_long(
    client, monkeypatch, settings
):
    settings.HEALTH_WEBHOOK_BACKLOG_SECONDS = 300
    unapplied_delivery(client, monkeypatch, age_seconds=600)
    response = health(client)
    assert response.status_code == 500
    assert "oldest unapplied webhook waited" in response.content.decode()


def test_health_fails_without_a_recent_worker_heartbeat(client, settings):
    from celery import current_app

    current_app.conf.task_always_eager = False
    try:
        cache.delete(HEARTBEAT_KEY)
        assert "no worker heartbeat yet" in health(client).content.decode()
        worker_heartbeat.apply()  # what beat sends and a worker runs
        body = health(client).content.decode()
        assert "heartbeat" not in body.lower().replace("workerheartbeat", "")
    finally:
        current_app.conf.task_always_eager = True


def test_metrics_count_deliveries_and_show_the_backlog(client, monkeypatch, settings):
    unapplied_delivery(client, monkeypatch, age_seconds=42)
    text = client.get("/metrics").content.decode()
    assert (
        'casino_webhook_deliveries_total{outcome="accepted",provider="stripe"}' in text
    )
    assert 'casino_webhook_unapplied{provider="stripe"} 1.0' in text
    age_line = next(
        line
        for line in text.splitlines()
        if line.startswith("casino_webhook_oldest_unapplied_age_seconds ")
    )
    assert 42 <= float(age_line.split()[1]) < 120
    assert "casino_payout_oldest_pending_age_seconds" in text
    assert "casino_task_queue_depth" in text


def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert ok.status_code == 200


def test_metrics_show_open_findings_by_brand_and_severity(client):
    from tests.factories import TenantFactory
    from wallet.services.findings import FindingSpec, finding_record

    brand = TenantFactory(slug="metrics-brand")
    finding_record(
        spec=FindingSpec(
            tenant_id=brand.pk,
            code="missing_in_ledger",
            severity="critical",
            object_type="psp_row",
            object_ref="py_1",
            details={},
        ),
        source="reconcile_psp",
    )

    text = client.get("/metrics").content.decode()

    assert (
        'reconciliation_findings_open{severity="critical",tenant="metrics-brand"} 1.0'
    ) in text


def test_metrics_survive_the_urlconf_being_built_again(rf):
    """A second URLconf (a reload, tests overriding ROOT_URLCONF) builds new
    scrape-time collectors; both views answer, each with one copy of the gauges."""
    from casino.metrics import metrics_view
    from payments.metrics import PaymentsCollector

    first = metrics_view(collectors=[PaymentsCollector()])
    second = metrics_view(collectors=[PaymentsCollector()])
    for view in (first, second, first):
        response = view(rf.get("/metrics"))
        assert response.status_code == 200
        body = response.content.decode()
        gauge = "# TYPE casino_webhook_unapplied gauge"
        assert body.count(gauge) == 1, body[:500]

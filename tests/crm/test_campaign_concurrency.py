"""Two runs of one campaign at the same time (real threads and commits on PostgreSQL)
split the players between them: nobody is mailed twice."""

import threading

import pytest
from django.core import mail
from django.db import connection

from common.actors import Actor
from crm import services
from crm.models import CampaignSend, Consent
from tests.factories import PlayerFactory, TenantFactory

ACTOR = Actor.system("tests")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_mail_each_player_once():
    tenant = TenantFactory(slug="race", name="Race")
    for n in range(40):
        player = PlayerFactory(tenant=tenant, email=f"p{n}@example.com")
        services.consent_set(
            actor=ACTOR,
            player=player,
            channel=Consent.Channel.EMAIL,
            granted=True,
            source="t",
        )
    segment = services.segment_create(actor=ACTOR, tenant=tenant, name="All", rules={})
    campaign = services.campaign_create(
        actor=ACTOR, segment=segment, name="C", subject_template="S", body_template="B"
    )
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.campaign_send(actor=ACTOR, campaign=campaign, batch_size=5)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    recipients = [m.to[0] for m in mail.outbox]
    assert errors == []
    assert sorted(recipients) == sorted(f"p{n}@example.com" for n in range(40))
    assert CampaignSend.objects.filter(campaign=campaign, status="sent").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_10k_player_send_streams_in_batches():
    """10,000 consenting players inserted in bulk (SQL), one send in batches of 500;
    prints the throughput (docs/crm.md)."""
    import time

    tenant = TenantFactory(slug="bulk", name="Bulk")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO casino_player (tenant_id, email, password, display_name,
                status, kyc_status, withdrawals_frozen, country, verified_name,
                created_at)
            SELECT %s, 'bulk' || g || '@example.com', '!', '', 'active',
                'unverified', false, 'DE', '', now()
            FROM generate_series(1, 10000) g
            """,
            [tenant.pk],
        )
        cursor.execute(
            """
            INSERT INTO crm_consent (tenant_id, player_id, channel, granted, source,
                recorded_at)
            SELECT tenant_id, id, 'email', true, 'bulk', now()
            FROM casino_player WHERE tenant_id = %s
            """,
            [tenant.pk],
        )
    segment = services.segment_create(
        actor=ACTOR, tenant=tenant, name="DE", rules={"country_in": ["DE"]}
    )
    campaign = services.campaign_create(
        actor=ACTOR,
        segment=segment,
        name="C",
        subject_template="Hi {{ player.display_name }}",
        body_template="B",
    )
    batches = []

    started = time.perf_counter()
    result = services.campaign_send(
        actor=ACTOR, campaign=campaign, batch_size=500, progress=batches.append
    )
    elapsed = time.perf_counter() - started
    rerun = services.campaign_send(actor=ACTOR, campaign=campaign, batch_size=500)

    print(f"\n10k campaign send: {elapsed:.1f} s, {10_000 / elapsed:.0f} mails/s")
    assert result.sent == 10_000
    assert batches == [500] * 20
    assert rerun.sent == 0
    assert len(mail.outbox) == 10_000

"""Campaign sends respect consent and exclusions, stream in batches and never mail a
player twice, however often they run."""

import pytest
from django.core import mail

from audit.models import AuditEvent
from casino.models import Player
from common.actors import Actor
from crm import services
from crm.exceptions import CampaignTemplateInvalid
from crm.models import CampaignSend, Consent
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
Status = CampaignSend.Status


def consenting(tenant, email, granted=True, **fields):
    p = PlayerFactory(tenant=tenant, email=email, display_name=email.split("@")[0])
    if fields:
        Player.objects.filter(pk=p.pk).update(**fields)
    services.consent_set(
        actor=ACTOR,
        player=p,
        channel=Consent.Channel.EMAIL,
        granted=granted,
        source="signup-form",
    )
    return p


def campaign_for(tenant, rules=None):
    segment = services.segment_create(
        actor=ACTOR, tenant=tenant, name="All", rules=rules or {}
    )
    return services.campaign_create(
        actor=ACTOR,
        segment=segment,
        name="Welcome back",
        subject_template="Hi {{ player.display_name }}",
        body_template="{{ brand }} misses you, {{ player.display_name }}.",
    )


def test_only_consenting_not_excluded_players_are_mailed(tenant):
    consenting(tenant, "yes@x.com")
    consenting(tenant, "no@x.com", granted=False)
    PlayerFactory(tenant=tenant, email="never@x.com")
    consenting(tenant, "blocked@x.com", status=Player.Status.BLOCKED)
    campaign = campaign_for(tenant)

    result = services.campaign_send(actor=ACTOR, campaign=campaign)

    assert [m.to for m in mail.outbox] == [["yes@x.com"]]
    assert mail.outbox[0].subject == "Hi yes"
    assert mail.outbox[0].body == "Alpha Casino misses you, yes."
    assert dict(
        CampaignSend.objects.filter(campaign=campaign).values_list("email", "status")
    ) == {
        "yes@x.com": Status.SENT,
        "no@x.com": Status.SKIPPED_NO_CONSENT,
        "never@x.com": Status.SKIPPED_NO_CONSENT,
        "blocked@x.com": Status.SKIPPED_EXCLUDED,
    }
    assert result.sent == 1


def test_rerun_mails_nobody_twice_and_reaches_who_consented_since(tenant):
    consenting(tenant, "a@x.com")
    late = consenting(tenant, "late@x.com", granted=False)
    campaign = campaign_for(tenant)
    services.campaign_send(actor=ACTOR, campaign=campaign)
    services.consent_set(
        actor=ACTOR, player=late, channel="email", granted=True, source="support"
    )

    second = services.campaign_send(actor=ACTOR, campaign=campaign)
    third = services.campaign_send(actor=ACTOR, campaign=campaign)

    assert sorted(m.to[0] for m in mail.outbox) == ["a@x.com", "late@x.com"]
    assert second.sent == 1
    assert third.sent == 0
    assert (
        CampaignSend.objects.filter(campaign=campaign, status=Status.SENT).count() == 2
    )


def test_send_streams_in_batches_and_reaches_everyone_once(tenant):
    for n in range(7):
        consenting(tenant, f"p{n}@x.com")
    campaign = campaign_for(tenant)
    batches = []

    result = services.campaign_send(
        actor=ACTOR, campaign=campaign, batch_size=3, progress=batches.append
    )

    assert batches == [3, 3, 1]
    assert result.sent == 7
    assert len({m.to[0] for m in mail.outbox}) == len(mail.outbox) == 7


def test_a_row_left_sending_by_a_crash_is_not_mailed_again(tenant):
    p = consenting(tenant, "a@x.com")
    campaign = campaign_for(tenant)
    CampaignSend.objects.create(
        tenant=tenant,
        campaign=campaign,
        player=p,
        status=Status.SENDING,
        email=p.email,
        updated_at=campaign.created_at,
    )

    services.campaign_send(actor=ACTOR, campaign=campaign)

    assert mail.outbox == []


def test_a_failed_mail_is_recorded_and_retried_by_the_next_run(tenant, settings):
    consenting(tenant, "a@x.com")
    campaign = campaign_for(tenant)
    settings.MAILERS = {"default": {"BACKEND": "tests.crm.failing_mailer.Backend"}}

    services.campaign_send(actor=ACTOR, campaign=campaign)
    failed = CampaignSend.objects.get(campaign=campaign)
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }
    services.campaign_send(actor=ACTOR, campaign=campaign)

    assert failed.status == Status.FAILED
    assert "refused" in failed.error
    assert CampaignSend.objects.get(campaign=campaign).status == Status.SENT
    assert [m.to for m in mail.outbox] == [["a@x.com"]]


def test_only_the_segment_is_mailed(tenant, other_tenant):
    consenting(tenant, "de@x.com", country="DE")
    consenting(tenant, "fr@x.com", country="FR")
    consenting(other_tenant, "theirs@x.com", country="DE")
    campaign = campaign_for(tenant, {"country_in": ["DE"]})

    services.campaign_send(actor=ACTOR, campaign=campaign)

    assert [m.to for m in mail.outbox] == [["de@x.com"]]


def test_each_run_is_audited_with_its_counts(tenant):
    consenting(tenant, "a@x.com")
    campaign = campaign_for(tenant)

    services.campaign_send(actor=ACTOR, campaign=campaign)

    event = AuditEvent.objects.get(action="crm.campaign_sent")
    assert event.after["sent"] == 1
    assert event.tenant_id == tenant.pk


def test_templates_can_not_reach_beyond_the_placeholders(tenant):
    segment = services.segment_create(actor=ACTOR, tenant=tenant, name="S", rules={})
    with pytest.raises(CampaignTemplateInvalid):
        services.campaign_create(
            actor=ACTOR,
            segment=segment,
            name="x",
            subject_template="{% load static %}hi",
            body_template="body",
        )
    with pytest.raises(CampaignTemplateInvalid):
        services.campaign_create(
            actor=ACTOR,
            segment=segment,
            name="x",
            subject_template="{% if %}",
            body_template="body",
        )

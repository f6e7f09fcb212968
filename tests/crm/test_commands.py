import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from common.actors import Actor
from crm import services
from crm.models import Consent
from tenants.features import tenant_feature_set
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def test_refresh_segments_reports_counts_with_a_progress_bar(tenant, other_tenant):
    PlayerFactory(tenant=tenant)
    PlayerFactory(tenant=tenant)
    services.segment_create(actor=ACTOR, tenant=tenant, name="All", rules={})
    services.segment_create(actor=ACTOR, tenant=other_tenant, name="All", rules={})
    tenant_feature_set(actor=ACTOR, tenant=other_tenant, feature="crm", enabled=False)
    out, err = io.StringIO(), io.StringIO()

    call_command("crm_refresh_segments", stdout=out, stderr=err)

    assert "alpha/All: 2 members (+2 -0)" in out.getvalue()
    assert "beta/" not in out.getvalue()  # CRM disabled there
    assert "1 segment(s) refreshed" in out.getvalue()
    assert "segment" in err.getvalue()  # the tqdm bar


def test_refresh_segments_for_an_unknown_brand_fails():
    with pytest.raises(CommandError):
        call_command("crm_refresh_segments", "--tenant", "nope", stdout=io.StringIO())


def test_send_campaign_command_is_idempotent(tenant):
    p = PlayerFactory(tenant=tenant)
    services.consent_set(
        actor=ACTOR, player=p, channel=Consent.Channel.EMAIL, granted=True, source="t"
    )
    segment = services.segment_create(actor=ACTOR, tenant=tenant, name="All", rules={})
    campaign = services.campaign_create(
        actor=ACTOR, segment=segment, name="C", subject_template="S", body_template="B"
    )
    out = io.StringIO()

    call_command("crm_send_campaign", campaign.pk, stdout=out, stderr=io.StringIO())
    call_command("crm_send_campaign", campaign.pk, stdout=out, stderr=io.StringIO())

    assert len(mail.outbox) == 1
    assert "already_done: 1" in out.getvalue()


def test_send_campaign_refuses_a_brand_without_crm(tenant):
    segment = services.segment_create(actor=ACTOR, tenant=tenant, name="All", rules={})
    campaign = services.campaign_create(
        actor=ACTOR, segment=segment, name="C", subject_template="S", body_template="B"
    )
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature="crm", enabled=False)

    with pytest.raises(CommandError, match="FEATURE_DISABLED"):
        call_command("crm_send_campaign", campaign.pk, stdout=io.StringIO())

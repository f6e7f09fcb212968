"""The CRM respects issue 13's exclusions: the ``self_excluded`` segment rule and the
campaign skips read time-outs and self-exclusions in force (the player's own, or a
sibling brand's when the operator shares exclusions), in the database, and an
exclusion stops counting at its ``ends_at``."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction

from casino.exclusions.services import (
    player_self_exclusion_start,
    player_time_out_start,
)
from casino.models import Player
from common.actors import Actor
from crm import services
from crm.models import CampaignSend, Consent
from crm.segments import segment_player_queryset, segment_rules_parse
from tenants.models import Operator, Tenant
from tests.factories import PlayerFactory, TenantFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
Status = CampaignSend.Status


def consenting(tenant, email):
    p = PlayerFactory(tenant=tenant, email=email)
    services.consent_set(
        actor=ACTOR,
        player=p,
        channel=Consent.Channel.EMAIL,
        granted=True,
        source="signup-form",
    )
    return p


def time_out(player, hours=24):
    with transaction.atomic():
        return player_time_out_start(player=player, hours=hours)


def self_exclude(player, months=6):
    with transaction.atomic():
        return player_self_exclusion_start(player=player, months=months)


def brands_of_one_operator(*, shares_exclusions):
    operator = Operator.objects.create(
        slug="op", name="Op", exclusion_covers_all_brands=shares_exclusions
    )
    brands = [TenantFactory(), TenantFactory()]
    Tenant.objects.filter(pk__in=[b.pk for b in brands]).update(operator=operator)
    return [Tenant.objects.get(pk=b.pk) for b in brands]


def in_segment(tenant, rules, now=None) -> set[str]:
    players = segment_player_queryset(
        tenant=tenant, spec=segment_rules_parse(rules), now=now
    )
    return set(players.values_list("email", flat=True))


def campaign_to_everyone(tenant):
    segment = services.segment_create(actor=ACTOR, tenant=tenant, name="All", rules={})
    return services.campaign_create(
        actor=ACTOR,
        segment=segment,
        name="Bonus",
        subject_template="Hi",
        body_template="A bonus for {{ player.email }}",
    )


def statuses(campaign) -> dict[str, str]:
    return dict(
        CampaignSend.objects.filter(campaign=campaign).values_list("email", "status")
    )


def test_self_excluded_and_timed_out_players_form_the_self_excluded_segment(
    tenant, clock
):
    self_exclude(PlayerFactory(tenant=tenant, email="self@x.com"))
    time_out(PlayerFactory(tenant=tenant, email="timeout@x.com"))
    PlayerFactory(tenant=tenant, email="free@x.com")

    assert in_segment(tenant, {"self_excluded": True}) == {
        "self@x.com",
        "timeout@x.com",
    }
    assert in_segment(tenant, {"self_excluded": False}) == {"free@x.com"}


def test_the_rule_is_one_query_evaluated_in_the_database(
    tenant, clock, django_assert_num_queries
):
    time_out(PlayerFactory(tenant=tenant, email="timeout@x.com"))
    players = segment_player_queryset(
        tenant=tenant, spec=segment_rules_parse({"self_excluded": True})
    )

    with django_assert_num_queries(1):
        assert [p.email for p in players] == ["timeout@x.com"]


def test_an_exclusion_stops_counting_at_its_end(tenant, clock):
    exclusion = time_out(PlayerFactory(tenant=tenant, email="timeout@x.com"))
    just_before = exclusion.ends_at - timedelta(microseconds=1)

    assert in_segment(tenant, {"self_excluded": True}, now=just_before) == {
        "timeout@x.com"
    }
    assert in_segment(tenant, {"self_excluded": True}, now=exclusion.ends_at) == set()
    assert in_segment(tenant, {"self_excluded": False}, now=exclusion.ends_at) == {
        "timeout@x.com"
    }


def test_a_sibling_brand_exclusion_counts_when_the_operator_shares_them(clock):
    here, sibling = brands_of_one_operator(shares_exclusions=True)
    PlayerFactory(tenant=here, email="sam@x.com")
    self_exclude(PlayerFactory(tenant=sibling, email="sam@x.com"))

    assert in_segment(here, {"self_excluded": True}) == {"sam@x.com"}


def test_a_sibling_brand_exclusion_does_not_count_when_the_operator_does_not_share(
    clock,
):
    here, sibling = brands_of_one_operator(shares_exclusions=False)
    PlayerFactory(tenant=here, email="sam@x.com")
    self_exclude(PlayerFactory(tenant=sibling, email="sam@x.com"))

    assert in_segment(here, {"self_excluded": True}) == set()
    assert in_segment(here, {"self_excluded": False}) == {"sam@x.com"}


def test_campaigns_skip_self_excluded_and_timed_out_players(tenant, clock):
    consenting(tenant, "yes@x.com")
    self_exclude(consenting(tenant, "self@x.com"))
    time_out(consenting(tenant, "timeout@x.com"))
    campaign = campaign_to_everyone(tenant)

    result = services.campaign_send(actor=ACTOR, campaign=campaign)

    assert [m.to for m in mail.outbox] == [["yes@x.com"]]
    assert statuses(campaign) == {
        "yes@x.com": Status.SENT,
        "self@x.com": Status.SKIPPED_EXCLUDED,
        "timeout@x.com": Status.SKIPPED_EXCLUDED,
    }
    assert result.counts[Status.SKIPPED_EXCLUDED] == 2


def test_campaigns_skip_a_player_excluded_on_a_sibling_brand(clock):
    here, sibling = brands_of_one_operator(shares_exclusions=True)
    consenting(here, "sam@x.com")
    self_exclude(PlayerFactory(tenant=sibling, email="sam@x.com"))
    campaign = campaign_to_everyone(here)

    services.campaign_send(actor=ACTOR, campaign=campaign)

    assert mail.outbox == []
    assert statuses(campaign) == {"sam@x.com": Status.SKIPPED_EXCLUDED}


def test_a_campaign_run_at_the_end_of_a_time_out_mails_the_player(tenant, clock):
    exclusion = time_out(consenting(tenant, "back@x.com"))
    campaign = campaign_to_everyone(tenant)
    clock.freeze(exclusion.ends_at - timedelta(microseconds=1))
    services.campaign_send(actor=ACTOR, campaign=campaign)
    assert mail.outbox == []

    clock.freeze(exclusion.ends_at)
    result = services.campaign_send(actor=ACTOR, campaign=campaign)

    assert [m.to for m in mail.outbox] == [["back@x.com"]]
    assert result.sent == 1
    assert Player.objects.get(email="back@x.com").status == Player.Status.ACTIVE

"""Each segment rule returns exactly the matching players, boundaries included."""

from datetime import UTC, datetime, timedelta

import pytest

from casino.models import Player
from common.actors import Actor
from crm import services
from crm.exceptions import SegmentRulesInvalid
from crm.segments import segment_player_queryset, segment_rules_parse
from tests.factories import PlayerFactory, fund
from tests.payments.factories import pending_deposit
from wallet import services as wallet
from wallet.models import Deposit

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def matching(tenant, rules) -> set[str]:
    players = segment_player_queryset(
        tenant=tenant, spec=segment_rules_parse(rules), now=NOW
    )
    return set(players.values_list("email", flat=True))


def player(tenant, email, **fields) -> Player:
    created = PlayerFactory(tenant=tenant, email=email)
    if fields:
        Player.objects.filter(pk=created.pk).update(**fields)
        created.refresh_from_db()
    return created


def completed_deposit(p, amount_minor, at, currency="EUR"):
    """A deposit completed through the services, then dated to ``at`` (the rule
    reads completed_at, which the service sets to the real now)."""
    deposit = pending_deposit(p, amount_minor, currency)
    wallet.deposit_complete(
        deposit_id=deposit.pk,
        tenant_id=p.tenant_id,
        amount_minor=amount_minor,
        currency=currency,
        payment_reference=f"pi_{deposit.pk}",
        actor=ACTOR,
    )
    Deposit.objects.filter(pk=deposit.pk).update(completed_at=at)


def test_country_rule(tenant):
    player(tenant, "de@x.com", country="DE")
    player(tenant, "at@x.com", country="AT")
    player(tenant, "fr@x.com", country="FR")
    player(tenant, "none@x.com")

    assert matching(tenant, {"country_in": ["de", "AT"]}) == {"de@x.com", "at@x.com"}


def test_kyc_status_rule(tenant):
    player(tenant, "v@x.com", kyc_status="verified")
    player(tenant, "p@x.com", kyc_status="pending")
    player(tenant, "u@x.com")

    assert matching(tenant, {"kyc_status_in": ["verified", "pending"]}) == {
        "v@x.com",
        "p@x.com",
    }


def test_deposits_in_last_days_counts_the_window_start_and_the_threshold(tenant):
    start = NOW - timedelta(days=30)
    on_boundary = player(tenant, "boundary@x.com")
    completed_deposit(on_boundary, 10_000, start)  # exactly at the window start: in
    just_outside = player(tenant, "outside@x.com")
    completed_deposit(just_outside, 10_000, start - timedelta(microseconds=1))
    summed = player(tenant, "summed@x.com")
    completed_deposit(summed, 6_000, NOW - timedelta(days=1))
    completed_deposit(summed, 4_000, NOW - timedelta(days=2))  # 100.00 in total: in
    short = player(tenant, "short@x.com")
    completed_deposit(short, 9_999, NOW)  # 99.99: out
    other_currency = player(tenant, "usd@x.com")
    completed_deposit(other_currency, 50_000, NOW, currency="USD")

    rules = {
        "deposits_in_last_days": {"days": 30, "currency": "EUR", "at_least": "100.00"}
    }

    assert matching(tenant, rules) == {"boundary@x.com", "summed@x.com"}


def test_last_login_before_a_date_excludes_that_midnight(tenant):
    player(
        tenant,
        "before@x.com",
        last_login_at=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
    )
    player(tenant, "midnight@x.com", last_login_at=datetime(2026, 11, 1, tzinfo=UTC))
    player(tenant, "recent@x.com", last_login_at=NOW)
    player(tenant, "never@x.com")

    assert matching(tenant, {"last_login_before": "2026-11-01"}) == {
        "before@x.com",
        "never@x.com",
    }


def test_has_tags_needs_every_tag(tenant):
    vip = services.tag_create(actor=ACTOR, tenant=tenant, name="vip")
    whale = services.tag_create(actor=ACTOR, tenant=tenant, name="whale")
    both = player(tenant, "both@x.com")
    one = player(tenant, "one@x.com")
    services.player_tag_add(actor=ACTOR, player=both, tag=vip)
    services.player_tag_add(actor=ACTOR, player=both, tag=whale)
    services.player_tag_add(actor=ACTOR, player=one, tag=vip)

    assert matching(tenant, {"has_tags": ["VIP", "whale"]}) == {"both@x.com"}
    assert matching(tenant, {"has_tags": ["vip"]}) == {"both@x.com", "one@x.com"}


def test_balance_above_is_strict(tenant):
    fund(player(tenant, "equal@x.com"), 5_000)
    fund(player(tenant, "above@x.com"), 5_001)
    fund(player(tenant, "usd@x.com"), 9_000, "USD")
    player(tenant, "empty@x.com")

    rules = {"balance_above": {"currency": "EUR", "amount": "50.00"}}

    assert matching(tenant, rules) == {"above@x.com"}


def test_self_excluded_reads_the_blocked_status(tenant):
    player(tenant, "blocked@x.com", status="blocked")
    player(tenant, "active@x.com")

    assert matching(tenant, {"self_excluded": True}) == {"blocked@x.com"}
    assert matching(tenant, {"self_excluded": False}) == {"active@x.com"}


def test_rules_combine_with_and(tenant):
    player(tenant, "de-verified@x.com", country="DE", kyc_status="verified")
    player(tenant, "de-unverified@x.com", country="DE")
    player(tenant, "fr-verified@x.com", country="FR", kyc_status="verified")

    rules = {"country_in": ["DE"], "kyc_status_in": ["verified"]}

    assert matching(tenant, rules) == {"de-verified@x.com"}


def test_rules_never_match_another_brands_players(tenant, other_tenant):
    player(tenant, "mine@x.com", country="DE")
    player(other_tenant, "theirs@x.com", country="DE")

    assert matching(tenant, {"country_in": ["DE"]}) == {"mine@x.com"}
    assert matching(tenant, {}) == {"mine@x.com"}


@pytest.mark.parametrize(
    "rules",
    [
        {"nope": 1},
        {"country_in": "DE"},
        {"country_in": ["DEU"]},
        {"kyc_status_in": ["great"]},
        {"deposits_in_last_days": {"days": 0, "currency": "EUR", "at_least": "1"}},
        {"deposits_in_last_days": {"days": 3, "currency": "EUR", "at_least": "1.001"}},
        {"balance_above": {"currency": "XXX", "amount": "1"}},
        {"last_login_before": "yesterday"},
        {"self_excluded": "yes"},
        [],
    ],
)
def test_invalid_rules_are_refused_with_a_stable_code(rules):
    with pytest.raises(SegmentRulesInvalid):
        segment_rules_parse(rules)


def test_refresh_stores_exactly_the_matching_members_and_drops_leavers(tenant):
    de = player(tenant, "de@x.com", country="DE")
    player(tenant, "fr@x.com", country="FR")
    segment = services.segment_create(
        actor=ACTOR, tenant=tenant, name="Germany", rules={"country_in": ["DE"]}
    )

    first = services.segment_refresh(segment=segment)
    Player.objects.filter(pk=de.pk).update(country="FR")
    player(tenant, "de2@x.com", country="DE")
    second = services.segment_refresh(segment=segment)

    segment.refresh_from_db()
    assert (first.member_count, first.added, first.removed) == (1, 1, 0)
    assert (second.member_count, second.added, second.removed) == (1, 1, 1)
    assert list(segment.memberships.values_list("player__email", flat=True)) == [
        "de2@x.com"
    ]
    assert segment.member_count == 1

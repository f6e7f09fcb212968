"""Deposit limits a player sets (UKGC RTS 12): decreases at once, increases and
removals after 24 hours and a fresh confirmation; enforced with the remaining amount
and the reset time. The policy clock replaces sleeping."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from audit.models import AuditEvent
from tests.compliance.helpers import deposit_start
from tests.factories import PlayerFactory
from wallet.compliance.deposit_limits import (
    period_bounds,
    player_deposit_limit_confirm,
    player_deposit_limit_set,
)
from wallet.exceptions import (
    DepositLimitCoolingOff,
    DepositLimitNoPendingChange,
    PlayerDepositLimitExceeded,
)
from wallet.models import PlayerDepositLimit

pytestmark = pytest.mark.django_db


def set_limit(player, amount_minor, period="day", currency="EUR"):
    # The caller owns the transaction, as the API view does: a refusal rolls back.
    with transaction.atomic():
        return player_deposit_limit_set(
            player=player, currency=currency, period=period, amount_minor=amount_minor
        )


def confirm(player, period="day", currency="EUR"):
    with transaction.atomic():
        return player_deposit_limit_confirm(
            player=player, currency=currency, period=period
        )


def test_a_first_limit_applies_at_once():
    player = PlayerFactory()
    limit = set_limit(player, 10_000)
    assert limit.amount_minor == 10_000
    assert not limit.has_pending_change


def test_a_decrease_applies_at_once():
    player = PlayerFactory()
    set_limit(player, 10_000)
    limit = set_limit(player, 5_000)
    assert limit.amount_minor == 5_000
    assert not limit.has_pending_change


def test_an_increase_waits_and_the_old_limit_still_binds(clock):
    player = PlayerFactory()
    set_limit(player, 5_000)
    limit = set_limit(player, 20_000)
    assert limit.amount_minor == 5_000
    assert limit.pending_amount_minor == 20_000
    assert limit.pending_available_at == clock.now() + timedelta(hours=24)
    with pytest.raises(PlayerDepositLimitExceeded):
        deposit_start(player, 6_000)


def test_confirming_one_second_before_the_cooling_off_ends_is_refused(clock):
    player = PlayerFactory()
    set_limit(player, 5_000)
    set_limit(player, 20_000)
    clock.advance(seconds=24 * 3600 - 1)
    with pytest.raises(DepositLimitCoolingOff) as refused:
        confirm(player)
    assert refused.value.retry_after == 1
    assert PlayerDepositLimit.objects.get(player=player).amount_minor == 5_000


def test_confirming_at_the_cooling_off_instant_applies_the_increase(clock):
    player = PlayerFactory()
    set_limit(player, 5_000)
    set_limit(player, 20_000)
    clock.advance(seconds=24 * 3600)
    limit = confirm(player)
    assert limit.amount_minor == 20_000
    assert not limit.has_pending_change
    deposit_start(player, 20_000)


def test_an_increase_is_never_applied_without_the_confirmation(clock):
    player = PlayerFactory()
    set_limit(player, 5_000)
    set_limit(player, 20_000)
    clock.advance(seconds=30 * 24 * 3600)
    assert PlayerDepositLimit.objects.get(player=player).amount_minor == 5_000


def test_a_removal_waits_for_the_cooling_off_and_the_confirmation(clock):
    player = PlayerFactory()
    set_limit(player, 5_000)
    limit = set_limit(player, None)
    assert limit.amount_minor == 5_000 and limit.pending_removal
    clock.advance(seconds=24 * 3600)
    limit = confirm(player)
    assert limit.amount_minor is None
    deposit_start(player, 1_000_000)


def test_a_decrease_drops_a_pending_increase():
    player = PlayerFactory()
    set_limit(player, 5_000)
    set_limit(player, 20_000)
    limit = set_limit(player, 4_000)
    assert limit.amount_minor == 4_000
    assert not limit.has_pending_change


def test_confirming_without_a_pending_change_is_refused():
    player = PlayerFactory()
    set_limit(player, 5_000)
    with pytest.raises(DepositLimitNoPendingChange):
        confirm(player)


def test_a_deposit_reaching_the_limit_exactly_is_allowed():
    player = PlayerFactory()
    set_limit(player, 10_000)
    deposit_start(player, 4_000)
    deposit_start(player, 6_000)


def test_a_deposit_one_cent_over_is_refused_with_remaining_and_reset(clock):
    player = PlayerFactory()
    set_limit(player, 10_000)
    deposit_start(player, 4_000)
    with pytest.raises(PlayerDepositLimitExceeded) as refused:
        deposit_start(player, 6_001)
    details = refused.value.details
    assert refused.value.code == "PLAYER_DEPOSIT_LIMIT_EXCEEDED"
    assert refused.value.http_status == 422
    assert details["remaining"] == 6_000
    assert details["used"] == 4_000
    assert details["period"] == "day"
    _, reset = period_bounds("day", clock.now())
    assert details["resets_at"] == reset.isoformat()


def test_the_tightest_limit_answers():
    player = PlayerFactory()
    set_limit(player, 10_000, period="day")
    set_limit(player, 3_000, period="month")
    with pytest.raises(PlayerDepositLimitExceeded) as refused:
        deposit_start(player, 5_000)
    assert refused.value.details["period"] == "month"
    assert refused.value.details["remaining"] == 3_000
    assert len(refused.value.details["exceeded"]) == 1


def test_a_limit_in_another_currency_does_not_bind():
    player = PlayerFactory()
    set_limit(player, 1_000, currency="USD")
    deposit_start(player, 5_000, "EUR")


def test_the_daily_limit_resets_at_midnight_utc(clock):
    player = PlayerFactory()
    set_limit(player, 10_000)
    deposit_start(player, 10_000)
    start, reset = period_bounds("day", clock.now())
    clock.freeze(reset)
    deposit_start(player, 10_000)


def test_period_bounds_are_calendar_periods_in_utc():
    moment = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)  # a Sunday
    assert period_bounds("day", moment) == (
        datetime(2026, 12, 6, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert period_bounds("week", moment) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert period_bounds("month", moment) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_every_change_is_audited_as_the_player():
    player = PlayerFactory()
    set_limit(player, 5_000)
    set_limit(player, 9_000)
    actions = list(
        AuditEvent.objects.filter(action__startswith="player.deposit_limit")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert actions == [
        ("player.deposit_limit_set", f"player:{player.pk}"),
        ("player.deposit_limit_increase_requested", f"player:{player.pk}"),
    ]


@pytest.mark.parametrize("amount", [-1, 1.5, "100"])
def test_a_bad_amount_is_refused(amount):
    player = PlayerFactory()
    with pytest.raises(Exception) as refused:
        set_limit(player, amount)
    assert refused.value.code == "VALIDATION_ERROR"
    assert not PlayerDepositLimit.objects.exists()


def test_removing_a_limit_that_does_not_exist_stores_nothing():
    player = PlayerFactory()
    limit = set_limit(player, None)
    assert limit.pk is None
    assert not PlayerDepositLimit.objects.exists()

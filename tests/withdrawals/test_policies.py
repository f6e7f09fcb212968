"""Tenant policies on withdrawals (TENANT-POLICY-002 and the limits), with the
controllable clock instead of sleeps."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.models import AuditEvent
from common.actors import Actor
from payments.exceptions import (
    PayoutOutcomeMustBeAsked,
    ProviderError,
    ProviderUnavailable,
)
from payments.providers import registry
from payments.providers.base import PayoutResult
from payments.providers.manual.provider import ManualProvider
from payments.withdrawals.manual import (
    manual_payout_mark_failed,
    manual_payout_mark_paid,
)
from payments.withdrawals.services import payout_retry, withdrawal_submit
from tests.factories import fund
from tests.withdrawals.factories import (
    DESTINATION,
    OPERATOR,
    latest_attempt,
    policy_set,
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet.exceptions import (
    LimitExceeded,
    PaymentCooldownActive,
    PaymentRetryLimitExceeded,
    PayoutRetryNotAllowed,
)
from wallet.models import PayoutAttempt, Withdrawal
from wallet.selectors import balance_list
from wallet.services import (
    deposit_limit_check,
    deposit_policy_check,
    withdrawal_reject,
)

pytestmark = pytest.mark.django_db


def retry(withdrawal, *, by_player=False):
    actor = Actor.for_player(withdrawal.player) if by_player else OPERATOR
    return payout_retry(withdrawal=withdrawal, actor=actor, by_player=by_player)


def fail_latest(withdrawal):
    with transaction.atomic():
        manual_payout_mark_failed(
            attempt=latest_attempt(withdrawal), actor=OPERATOR, reason="bounced"
        )


def held(player) -> int:
    return balance_list(player=player)[0].held_minor


# --- TENANT-POLICY-002: retry limit ----------------------------------------------------


def test_defaults_are_three_retries_and_a_sixty_second_cooldown():
    player = verified_player()
    policy = player.tenant.policy
    assert (policy.payout_retry_limit, policy.payout_cooldown_seconds) == (3, 60)
    assert policy.player_may_retry_payout is False
    assert policy.kyc_required_for_withdrawal is True


def test_retries_up_to_the_limit_then_refuses(clock):
    player = verified_player()
    policy_set(player.tenant, payout_retry_limit=3, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    for _ in range(3):
        assert retry(withdrawal) is not None
        fail_latest(withdrawal)
    with pytest.raises(PaymentRetryLimitExceeded) as refused:
        retry(withdrawal)
    assert refused.value.http_status == 422
    assert refused.value.details["retry_limit"] == 3
    assert refused.value.details["retries_used"] == 3
    assert withdrawal.attempts.count() == 4


def test_retry_limit_zero_allows_no_retry_at_all(clock):
    player = verified_player()
    policy_set(player.tenant, payout_retry_limit=0, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    with pytest.raises(PaymentRetryLimitExceeded):
        retry(withdrawal)
    assert withdrawal.attempts.count() == 1


def test_a_refused_retry_is_audited_and_moves_nothing(clock):
    player = verified_player(balance_minor=10_000)
    policy_set(player.tenant, payout_retry_limit=0)
    withdrawal = withdrawal_payout_failed_once(player, 2_000)
    with pytest.raises(PaymentRetryLimitExceeded):
        retry(withdrawal)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert held(player) == 2_000
    blocked = AuditEvent.objects.get(action="withdrawal.payout_retry_blocked")
    assert blocked.after["code"] == "PAYMENT_RETRY_LIMIT_EXCEEDED"
    assert blocked.target_id == str(withdrawal.pk)


# --- TENANT-POLICY-002: cooldown -------------------------------------------------------


def test_retry_one_second_before_the_cooldown_ends_is_refused_with_retry_after(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=60)
    withdrawal = withdrawal_payout_failed_once(player)
    clock.advance(seconds=59)
    with pytest.raises(PaymentCooldownActive) as refused:
        retry(withdrawal)
    assert refused.value.http_status == 429
    assert refused.value.headers() == {"Retry-After": "1"}
    assert refused.value.details["cooldown_seconds"] == 60


def test_retry_exactly_at_the_end_of_the_cooldown_is_allowed(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=60)
    withdrawal = withdrawal_payout_failed_once(player)
    clock.advance(seconds=60)
    attempt = retry(withdrawal)
    assert attempt.number == 2


def test_cooldown_counts_from_the_last_attempt_not_the_first(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=60)
    withdrawal = withdrawal_payout_failed_once(player)
    clock.advance(seconds=60)
    retry(withdrawal)
    fail_latest(withdrawal)
    clock.advance(seconds=30)
    with pytest.raises(PaymentCooldownActive) as refused:
        retry(withdrawal)
    assert refused.value.retry_after == 30


def test_cooldown_zero_allows_an_immediate_retry(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    assert retry(withdrawal).number == 2


def test_a_cooldown_refusal_is_audited(clock):
    player = verified_player()
    withdrawal = withdrawal_payout_failed_once(player)
    with pytest.raises(PaymentCooldownActive):
        retry(withdrawal)
    blocked = AuditEvent.objects.get(action="withdrawal.payout_retry_blocked")
    assert blocked.after["code"] == "PAYMENT_COOLDOWN_ACTIVE"


def test_players_may_not_retry_unless_the_brand_allows_it(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    with pytest.raises(PayoutRetryNotAllowed):
        retry(withdrawal, by_player=True)
    policy_set(player.tenant, player_may_retry_payout=True)
    assert retry(withdrawal, by_player=True).number == 2


def test_a_stale_retry_click_after_someone_retried_is_a_no_op(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    failed_attempt = latest_attempt(withdrawal)
    retry(withdrawal)
    again = payout_retry(
        withdrawal=withdrawal,
        actor=OPERATOR,
        by_player=False,
        after_attempt_id=failed_attempt.pk,
    )
    assert again is None
    assert withdrawal.attempts.count() == 2
    assert (
        AuditEvent.objects.filter(
            action="withdrawal.payout_retried", target_id=str(withdrawal.pk)
        ).count()
        == 1
    )


# --- unknown payout outcome ------------------------------------------------------------


class _Timeout(ManualProvider):
    name = "timeout"

    def send_payout(self, request):
        raise ProviderUnavailable(details={"provider": self.name})


class _Refuses(ManualProvider):
    name = "refuses"

    def send_payout(self, request):
        raise ProviderError("account closed", details={"provider": self.name})


class _PaysAtOnce(ManualProvider):
    name = "pays"

    def send_payout(self, request):
        return PayoutResult(status="paid", provider_reference="PSP-1")


@pytest.fixture
def provider(monkeypatch):
    def use(cls):
        registry.register(cls.name, lambda config: cls())
        monkeypatch.setattr(
            "payments.withdrawals.services.payout_provider_for",
            lambda withdrawal: cls.name,
        )

    return use


def test_a_payout_with_unknown_outcome_stays_pending_with_funds_held(provider):
    provider(_Timeout)
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.UNKNOWN
    assert balance_list(player=player)[0].available_minor == 8_000
    assert held(player) == 2_000
    assert withdrawal.hold.state == "pending"


def test_an_unknown_outcome_can_be_neither_retried_nor_rejected(provider):
    provider(_Timeout)
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    with pytest.raises(Exception) as retried:
        retry(withdrawal)
    with pytest.raises(Exception) as rejected, transaction.atomic():
        withdrawal_reject(withdrawal=withdrawal, actor=OPERATOR, reason="unsure")
    assert retried.value.code == "ILLEGAL_TRANSACTION_STATE_TRANSITION"
    assert rejected.value.code == "ILLEGAL_TRANSACTION_STATE_TRANSITION"
    assert held(player) == 2_000


def test_an_unknown_psp_outcome_cannot_be_settled_by_an_operators_guess(provider):
    """Issue 8, defect 1: marking an unknown PSP payout failed, then retrying, sent a
    second transfer with a new key; if the first was booked the player was paid
    twice. Only the PSP's answer (reconcile_payouts, the admin's "ask the PSP")
    settles it."""
    provider(_Timeout)
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    attempt = latest_attempt(withdrawal)
    with pytest.raises(PayoutOutcomeMustBeAsked), transaction.atomic():
        manual_payout_mark_failed(attempt=attempt, actor=OPERATOR, reason="guess")
    with pytest.raises(PayoutOutcomeMustBeAsked), transaction.atomic():
        manual_payout_mark_paid(attempt=attempt, actor=OPERATOR, bank_reference="B-9")
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.UNKNOWN
    assert held(player) == 2_000


def test_a_provider_refusal_fails_the_payout_and_keeps_funds_held(provider):
    provider(_Refuses)
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player, 2_000)
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert latest_attempt(withdrawal).failure_reason == "account closed"
    assert held(player) == 2_000


def test_a_provider_that_pays_at_once_settles_the_withdrawal(provider):
    provider(_PaysAtOnce)
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player, 2_000)
    assert withdrawal.state == Withdrawal.State.PAID
    assert latest_attempt(withdrawal).provider_reference == "PSP-1"
    assert held(player) == 0


# --- limits, velocity, auto-approve ------------------------------------------------


def test_daily_withdrawal_limit_reports_limit_used_attempted_remaining(clock):
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 10_000})
    withdrawal_requested(player, 6_000)
    with pytest.raises(LimitExceeded) as refused:
        withdrawal_requested(player, 5_000)
    assert refused.value.http_status == 422
    assert refused.value.details == {
        "limit": 10_000,
        "used": 6_000,
        "attempted": 5_000,
        "remaining": 4_000,
        "currency": "EUR",
        "period": "day",
        "kind": "daily_withdrawal",
    }


def test_daily_withdrawal_limit_allows_exactly_the_limit(clock):
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 10_000})
    withdrawal_requested(player, 6_000)
    assert withdrawal_requested(player, 4_000).state == Withdrawal.State.REQUESTED


def test_daily_withdrawal_limit_zero_refuses_everything(clock):
    player = verified_player()
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 0})
    with pytest.raises(LimitExceeded):
        withdrawal_requested(player, 1)


def test_daily_withdrawal_limit_resets_the_next_utc_day(clock):
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 10_000})
    withdrawal_requested(player, 10_000)
    clock.advance(seconds=24 * 3600)
    assert withdrawal_requested(player, 10_000).state == Withdrawal.State.REQUESTED


def test_rejected_withdrawals_do_not_count_against_the_daily_limit(clock):
    player = verified_player(balance_minor=100_000)
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 10_000})
    first = withdrawal_requested(player, 10_000)
    withdrawal_reject(withdrawal=first, actor=OPERATOR, reason="duplicate")
    assert withdrawal_requested(player, 10_000).state == Withdrawal.State.REQUESTED


def test_velocity_refuses_the_request_beyond_the_window_count(clock):
    player = verified_player(balance_minor=100_000)
    policy_set(
        player.tenant,
        withdrawal_velocity_max_requests=2,
        withdrawal_velocity_window_seconds=600,
    )
    withdrawal_requested(player, 1_000)
    clock.advance(seconds=100)
    withdrawal_requested(player, 1_000)
    with pytest.raises(Exception) as refused:
        withdrawal_requested(player, 1_000)
    assert refused.value.code == "VELOCITY_LIMIT_EXCEEDED"
    assert refused.value.http_status == 429
    assert refused.value.headers() == {"Retry-After": "500"}
    clock.advance(seconds=500)
    assert withdrawal_requested(player, 1_000).state == Withdrawal.State.REQUESTED


def test_velocity_zero_refuses_every_request(clock):
    player = verified_player()
    policy_set(player.tenant, withdrawal_velocity_max_requests=0)
    with pytest.raises(Exception) as refused:
        withdrawal_requested(player, 1_000)
    assert refused.value.code == "VELOCITY_LIMIT_EXCEEDED"


def test_below_the_auto_approve_threshold_the_payout_starts_without_review():
    player = verified_player()
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 5_000})
    withdrawal, _ = withdrawal_submit(
        player=player,
        amount_minor=4_999,
        currency="EUR",
        destination=DESTINATION,
        idempotency_key="auto-1",
    )
    assert withdrawal.auto_approved is True
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert withdrawal.attempts.count() == 1


@pytest.mark.parametrize(
    "thresholds",
    [{"EUR": 5_000}, {"EUR": 0}, {}, {"EUR": "lots"}, {"EUR": -1}, ["EUR"]],
    ids=["at-threshold", "zero", "missing", "not-a-number", "negative", "not-a-map"],
)
def test_otherwise_the_withdrawal_waits_for_manual_review(thresholds):
    player = verified_player()
    policy_set(player.tenant, auto_approve_thresholds=thresholds)
    withdrawal = withdrawal_requested(player, 5_000)
    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert withdrawal.auto_approved is False


def test_a_broken_limit_fails_closed():
    player = verified_player()
    policy_set(player.tenant, withdrawal_max_amounts={"EUR": "many"})
    with pytest.raises(Exception) as refused:
        withdrawal_requested(player, 1_000)
    assert refused.value.code == "MODULE_TEMPORARILY_DISABLED"
    assert refused.value.details["policy_field"] == "withdrawal_max_amounts"


# --- daily deposit limit (called by the deposit flow) ---------------------------------


def test_deposit_limit_check_passes_without_a_limit(clock):
    player = verified_player(balance_minor=50_000)
    deposit_limit_check(player=player, currency="EUR", amount_minor=10**9)


def test_deposit_limit_check_counts_todays_credited_deposits(clock):
    player = verified_player(balance_minor=6_000)
    policy_set(player.tenant, daily_deposit_limits={"EUR": 10_000})
    deposit_limit_check(player=player, currency="EUR", amount_minor=4_000)
    with pytest.raises(LimitExceeded) as refused:
        deposit_limit_check(player=player, currency="EUR", amount_minor=4_001)
    assert refused.value.details["used"] == 6_000
    assert refused.value.details["remaining"] == 4_000
    assert refused.value.details["kind"] == "daily_deposit"


def test_deposit_limit_check_counts_pending_deposits_the_caller_passes(clock):
    player = verified_player(balance_minor=0)
    policy_set(player.tenant, daily_deposit_limits={"EUR": 10_000})
    with pytest.raises(LimitExceeded) as refused:
        deposit_limit_check(
            player=player, currency="EUR", amount_minor=5_000, pending_minor=6_000
        )
    assert refused.value.details["used"] == 6_000


def test_deposit_limit_check_resets_the_next_day(clock):
    player = verified_player(balance_minor=10_000)
    policy_set(player.tenant, daily_deposit_limits={"EUR": 10_000})
    clock.advance(seconds=24 * 3600)
    deposit_limit_check(player=player, currency="EUR", amount_minor=10_000)


def test_deposit_limit_is_per_currency(clock):
    player = verified_player(balance_minor=10_000)
    fund(player, 10_000, "USD")
    policy_set(player.tenant, daily_deposit_limits={"EUR": 10_000})
    deposit_limit_check(player=player, currency="USD", amount_minor=10_000)


def test_deposit_policy_check_honours_the_deposits_kill_switch(clock):
    player = verified_player(balance_minor=0)
    policy_set(player.tenant, deposits_enabled=False)
    with pytest.raises(Exception) as refused:
        deposit_policy_check(player=player, currency="EUR", amount_minor=1_000)
    assert refused.value.code == "MODULE_TEMPORARILY_DISABLED"
    assert refused.value.details == {"module": "deposits"}


def test_deposit_policy_check_applies_the_daily_limit(clock):
    player = verified_player(balance_minor=0)
    policy_set(player.tenant, daily_deposit_limits={"EUR": 1_000})
    with pytest.raises(LimitExceeded):
        deposit_policy_check(player=player, currency="EUR", amount_minor=1_001)


# --- validation of policy edits -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("daily_withdrawal_limits", {"EUR": -5}),
        ("daily_deposit_limits", {"EUR": 1.5}),
        ("withdrawal_min_amounts", {"XXX": 100}),
        ("auto_approve_thresholds", ["EUR", 100]),
    ],
)
def test_policy_clean_refuses_broken_amount_maps(field, value):
    player = verified_player(balance_minor=0)
    policy = player.tenant.policy
    setattr(policy, field, value)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert field in refused.value.message_dict


def test_policy_clean_refuses_a_maximum_below_the_minimum():
    player = verified_player(balance_minor=0)
    policy = player.tenant.policy
    policy.withdrawal_min_amounts = {"EUR": 5_000}
    policy.withdrawal_max_amounts = {"EUR": 1_000}
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "withdrawal_max_amounts" in refused.value.message_dict


def test_policy_clean_accepts_explicit_zeros():
    player = verified_player(balance_minor=0)
    policy = player.tenant.policy
    policy.payout_retry_limit = 0
    policy.payout_cooldown_seconds = 0
    policy.daily_withdrawal_limits = {"EUR": 0}
    policy.full_clean()
    policy.save()
    policy.refresh_from_db()
    assert (policy.payout_retry_limit, policy.payout_cooldown_seconds) == (0, 0)


def test_the_clock_fixture_moves_time_without_sleeping(clock):
    start = clock.now()
    clock.advance(seconds=3600)
    assert clock.now() - start == timedelta(hours=1)

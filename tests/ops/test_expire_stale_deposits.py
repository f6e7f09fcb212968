"""``manage.py expire_stale_deposits``: the PSP is asked, definite answers are
applied through the wallet's deposit services, and nothing is ever credited here."""

import pytest
from django.core.management import CommandError

from audit.models import AuditEvent
from common.actors import Actor
from payments.config.services import psp_config_ensure_simulated
from payments.simulator.events import checkout_session
from tests.adyen.factories import adyen_psp_config
from tests.factories import PlayerFactory
from tests.ops.conftest import DAY, run, run_alerting, run_failing
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet import services as wallet
from wallet.models import Deposit, Finding
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db

PSP = Actor.psp("stripe")


@pytest.fixture
def config(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return config


@pytest.fixture
def player(config):
    return PlayerFactory(tenant=config.tenant)


def stripe_session(fake_stripe, deposit, *, status, payment_status):
    fake_stripe.sessions[deposit.provider_reference] = checkout_session(
        deposit, status=status, payment_status=payment_status
    )


def stale(player, clock, **kwargs):
    """A deposit waiting at the PSP, then a day and two hours later."""
    deposit = pending_deposit(player, **kwargs)
    clock.advance(seconds=DAY + 2 * 3600)
    return deposit


def test_deposit_the_psp_expired_is_expired_and_moves_no_money(
    fake_stripe, player, clock
):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert balance_list(player=player) == []
    assert f"EXPIRED deposit {deposit.pk}" in out
    assert "PSP says expired/unpaid" in out
    assert "Stale deposits (all tenants): 1 examined; expired 1." in out
    assert fake_stripe.requests[-1].path == (
        f"/v1/checkout/sessions/{deposit.provider_reference}"
    )


def test_deposit_paid_at_the_psp_without_a_webhook_is_flagged_not_credited(
    fake_stripe, player, clock
):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="complete", payment_status="paid")

    out = run_alerting("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review
    assert "paid at the PSP but no verified webhook credited it" in (
        deposit.review_reason
    )
    assert balance_list(player=player) == []
    assert f"PAID_NOT_CREDITED deposit {deposit.pk}" in out
    assert "50.00 EUR: not credited" in out
    assert "paid_not_credited 1." in out


def test_a_second_run_reports_the_paid_deposit_again_without_flagging_it_twice(
    fake_stripe, player, clock
):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="complete", payment_status="paid")
    run_alerting("expire_stale_deposits")

    out = run_alerting("expire_stale_deposits")

    assert f"PAID_ALREADY_FLAGGED deposit {deposit.pk}" in out
    flags = AuditEvent.objects.filter(action="deposit.flagged", target_id=deposit.pk)
    assert flags.count() == 1


def test_the_webhook_that_arrives_after_the_flag_still_credits_once(
    fake_stripe, player, clock
):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="complete", payment_status="paid")
    run_alerting("expire_stale_deposits")

    wallet.deposit_complete(
        deposit_id=deposit.pk,
        tenant_id=deposit.tenant_id,
        amount_minor=5000,
        currency="EUR",
        payment_reference="pi_late",
        actor=PSP,
    )
    out = run_alerting("expire_stale_deposits")

    [balance] = balance_list(player=player)
    assert balance.available_minor == 5000
    assert "0 examined; nothing to do." in out


def test_unreachable_psp_leaves_the_deposit_and_reports_it(fake_stripe, player, clock):
    deposit = stale(player, clock)
    fake_stripe.fail_with_status = 500

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert not deposit.needs_review
    assert f"UNREACHABLE deposit {deposit.pk}" in out
    assert "unreachable 1." in out


def test_checkout_the_psp_does_not_know_fails_the_deposit(fake_stripe, player, clock):
    deposit = stale(player, clock)  # no session in the fake: Stripe answers 404

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.FAILED
    assert "does not know checkout" in deposit.failure_reason
    assert f"FAILED deposit {deposit.pk}" in out


def test_session_still_open_or_paying_asynchronously_is_left_alone(
    fake_stripe, player, clock
):
    open_deposit = stale(player, clock)
    paying = pending_deposit(player)
    clock.advance(seconds=DAY + 2 * 3600)
    stripe_session(fake_stripe, open_deposit, status="open", payment_status="unpaid")
    stripe_session(fake_stripe, paying, status="complete", payment_status="unpaid")

    out = run("expire_stale_deposits")

    states = set(
        Deposit.objects.filter(pk__in=[open_deposit.pk, paying.pk]).values_list(
            "state", flat=True
        )
    )
    assert states == {Deposit.State.PENDING_PROVIDER}
    assert "still_open 2." in out


def test_deposit_younger_than_the_cut_off_is_not_examined(fake_stripe, player, clock):
    deposit = pending_deposit(player)
    clock.advance(seconds=DAY)  # a Checkout Session can still be open

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert "0 examined" in out
    assert fake_stripe.requests == []


def test_older_than_minutes_moves_the_cut_off(fake_stripe, player, clock):
    deposit = pending_deposit(player)
    clock.advance(seconds=3 * 3600)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")

    out = run("expire_stale_deposits", "--older-than-minutes", "120")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert "expired 1." in out


def test_dry_run_asks_and_reports_but_changes_nothing(fake_stripe, player, clock):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")

    out = run("expire_stale_deposits", "--dry-run")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert f"DRY RUN EXPIRED deposit {deposit.pk}" in out
    assert "DRY RUN Stale deposits (all tenants): 1 examined; expired 1." in out


def test_a_second_run_finds_nothing_left_to_do(fake_stripe, player, clock):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")
    run("expire_stale_deposits")
    asked = len(fake_stripe.requests)

    out = run("expire_stale_deposits")

    assert "0 examined; nothing to do." in out
    assert len(fake_stripe.requests) == asked
    assert (
        AuditEvent.objects.filter(
            action="deposit.expired", target_id=deposit.pk
        ).count()
        == 1
    )


def test_tenant_option_leaves_other_brands_alone(fake_stripe, player, clock):
    other_config = PSPConfigFactory()
    fake_stripe.valid_keys.add(other_config.secret_key())
    other = pending_deposit(PlayerFactory(tenant=other_config.tenant))
    deposit = stale(player, clock)
    for each in (deposit, other):
        stripe_session(fake_stripe, each, status="expired", payment_status="unpaid")

    out = run("expire_stale_deposits", "--tenant", player.tenant.slug)

    other.refresh_from_db()
    assert other.state == Deposit.State.PENDING_PROVIDER
    assert f"(tenant {player.tenant.slug}): 1 examined; expired 1." in out


def test_deposit_whose_checkout_never_opened_is_expired_by_age(player, clock):
    deposit, _ = wallet.deposit_create(
        player=player,
        provider="stripe",
        amount_minor=1000,
        currency="EUR",
        idempotency_key="never-opened",
        actor=PSP,
    )
    clock.advance(seconds=DAY + 2 * 3600)

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert "EXPIRED_BY_AGE" in out
    assert "no checkout was ever opened" in out


def test_unknown_tenant_is_an_error():
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        run("expire_stale_deposits", "--tenant", "nope")


def test_negative_cut_off_is_refused():
    out, error = run_failing("expire_stale_deposits", "--older-than-minutes", "-1")
    assert error == "--older-than-minutes must be 0 or more."


# --- Adyen payment links ---------------------------------------------------------


@pytest.fixture
def adyen_player(fake_adyen_routes):
    config = adyen_psp_config()
    return PlayerFactory(tenant=config.tenant)


def adyen_link(fake_adyen_routes, deposit, status):
    fake_adyen_routes.routes[f"/paymentLinks/{deposit.provider_reference}"] = (
        200,
        {
            "id": deposit.provider_reference,
            "status": status,
            "amount": {"currency": deposit.currency, "value": deposit.amount_minor},
            "reference": f"deposit:{deposit.pk}",
            "merchantAccount": "BrandAMerchant",
            "url": "https://test.adyen.link/PL1",
            "expiresAt": "2024-01-02T10:00:00Z",
        },
    )


def test_adyen_link_that_expired_expires_the_deposit(
    fake_adyen_routes, adyen_player, clock
):
    deposit = stale(adyen_player, clock, provider="adyen")
    adyen_link(fake_adyen_routes, deposit, "expired")

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert ("GET", f"/paymentLinks/{deposit.provider_reference}") in (
        fake_adyen_routes.asked()
    )
    assert "(" + adyen_player.tenant.slug + ", adyen): PSP says expired" in out


def test_adyen_link_paid_without_a_notification_is_flagged_not_credited(
    fake_adyen_routes, adyen_player, clock
):
    deposit = stale(adyen_player, clock, provider="adyen")
    adyen_link(fake_adyen_routes, deposit, "completed")

    out = run_alerting("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review
    assert balance_list(player=adyen_player) == []
    assert "paid_not_credited 1." in out


def test_adyen_unreachable_leaves_the_deposit(fake_adyen_routes, adyen_player, clock):
    deposit = stale(adyen_player, clock, provider="adyen")
    fake_adyen_routes.routes[f"/paymentLinks/{deposit.provider_reference}"] = (
        503,
        {"status": 503, "errorCode": "000", "message": "Unavailable"},
    )

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert "unreachable 1." in out


# --- simulator -----------------------------------------------------------------------


def test_simulated_psp_is_not_asked_and_the_deposit_expires_by_age(simulator, clock):
    player = PlayerFactory()
    psp_config_ensure_simulated(tenant=player.tenant, provider="stripe")
    deposit = stale(player, clock)

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert f"EXPIRED_BY_AGE deposit {deposit.pk}" in out
    assert "simulated PSP, nothing to ask" in out


def test_simulated_config_is_not_asked_even_with_the_simulator_switched_off(
    simulator, settings, clock
):
    player = PlayerFactory()
    psp_config_ensure_simulated(tenant=player.tenant, provider="stripe")
    deposit = stale(player, clock)
    settings.PAYMENTS_SIMULATOR_ENABLED = False  # a demo database, served normally

    out = run("expire_stale_deposits")

    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert "simulated PSP, nothing to ask" in out


def test_one_deposit_can_be_asked_about_by_id_for_a_worker(fake_stripe, player):
    """``deposit_status_check(deposit_id=)``: the unit a worker re-drives, the same
    code the command runs."""
    from payments.reconciliation import deposit_status_check

    deposit = pending_deposit(player)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")
    finding = deposit_status_check(deposit_id=deposit.pk)
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    assert finding.outcome == "expired"
    assert deposit_status_check(deposit_id=deposit.pk).outcome != "paid"


def test_a_paid_deposit_not_credited_is_one_critical_finding_across_runs(
    fake_stripe, player, clock
):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="complete", payment_status="paid")
    run_alerting("expire_stale_deposits")

    run_alerting("expire_stale_deposits")

    finding = Finding.objects.get(code="deposit_paid_not_credited")
    assert finding.tenant_id == deposit.tenant_id
    assert finding.object_ref == str(deposit.pk)
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.source == "expire_stale_deposits"
    assert finding.times_seen == 2


def test_a_clean_run_records_no_finding_and_exits_zero(fake_stripe, player, clock):
    deposit = stale(player, clock)
    stripe_session(fake_stripe, deposit, status="expired", payment_status="unpaid")

    out = run("expire_stale_deposits")

    assert "Findings recorded: 0." in out
    assert not Finding.objects.exists()

"""The operator's withdrawal queue and review page in the Django admin."""

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from tenants.models import TenantPolicy
from tests.factories import OperatorFactory, TenantFactory
from tests.withdrawals.factories import (
    IBAN,
    latest_attempt,
    policy_set,
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet.models import JournalTransaction, Withdrawal
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db

QUEUE = "/admin/wallet/withdrawal/"


def page(withdrawal) -> str:
    return f"{QUEUE}{withdrawal.pk}/change/"


def operator_client(*tenants) -> Client:
    client = Client()
    client.force_login(OperatorFactory(tenants=list(tenants)))
    return client


def audits(withdrawal, action: str) -> int:
    return AuditEvent.objects.filter(
        target_type="wallet.Withdrawal", target_id=str(withdrawal.pk), action=action
    ).count()


def test_the_queue_lists_only_the_operators_brand():
    mine = withdrawal_requested(verified_player())
    theirs = withdrawal_requested(verified_player())
    response = operator_client(mine.tenant).get(QUEUE)
    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert listed == [mine]
    assert theirs not in listed


@pytest.mark.parametrize(
    "query",
    ["state=requested", "amount=small", "age=1h", "currency=EUR", "q=player"],
)
def test_the_queue_filters_and_searches(query):
    withdrawal = withdrawal_requested(verified_player(), 2_000)
    response = operator_client(withdrawal.tenant).get(f"{QUEUE}?{query}")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [withdrawal]


def test_the_queue_filters_by_brand_among_the_operators_brands():
    first = withdrawal_requested(verified_player())
    second = withdrawal_requested(verified_player())
    client = operator_client(first.tenant, second.tenant)
    response = client.get(f"{QUEUE}?tenant={second.tenant_id}")
    assert list(response.context["cl"].result_list) == [second]


def test_the_queue_search_by_email_excludes_others():
    withdrawal = withdrawal_requested(verified_player(email="ann@example.com"))
    withdrawal_requested(verified_player(tenant=withdrawal.tenant, email="bob@x.org"))
    response = operator_client(withdrawal.tenant).get(f"{QUEUE}?q=ann@")
    assert list(response.context["cl"].result_list) == [withdrawal]


def test_the_review_page_shows_balances_kyc_flags_and_ledger_but_not_the_iban():
    player = verified_player(balance_minor=10_000, age_days=0)
    withdrawal = withdrawal_requested(player, 2_500)
    response = operator_client(withdrawal.tenant).get(page(withdrawal))
    html = response.content.decode()
    assert response.status_code == 200
    assert "DE89 •••• 3000" in html
    assert IBAN not in html
    assert "Verified" in html
    assert "75.00" in html and "25.00" in html
    assert "Account younger than 7 days." in html
    assert "Withdrawal hold placed" in html
    assert f'action="{QUEUE}{withdrawal.pk}/approve/"' in html


def test_another_brands_review_page_is_404():
    withdrawal = withdrawal_requested(verified_player())
    response = operator_client(TenantFactory()).get(page(withdrawal))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "action", ["approve", "reject", "mark-paid", "mark-failed", "retry", "ask-psp"]
)
def test_another_brands_review_actions_are_404_and_change_nothing(action):
    withdrawal = withdrawal_requested(verified_player())
    response = operator_client(TenantFactory()).post(
        action_url(withdrawal, action), {"reason": "x"}
    )
    assert response.status_code == 404
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED


def action_url(withdrawal, action: str) -> str:
    return f"{QUEUE}{withdrawal.pk}/{action}/"


def test_a_get_on_an_action_is_refused():
    withdrawal = withdrawal_requested(verified_player())
    response = operator_client(withdrawal.tenant).get(action_url(withdrawal, "approve"))
    assert response.status_code == 405


def test_approve_double_click_gives_one_payout_and_one_audit_row():
    withdrawal = withdrawal_requested(verified_player())
    client = operator_client(withdrawal.tenant)
    first = client.post(action_url(withdrawal, "approve"), follow=True)
    second = client.post(action_url(withdrawal, "approve"), follow=True)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert withdrawal.attempts.count() == 1
    assert audits(withdrawal, "withdrawal.approved") == 1
    assert "Approved" in first.content.decode()
    assert "Nothing to do" in second.content.decode()


def test_reject_without_a_reason_is_refused_and_moves_nothing():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    response = operator_client(withdrawal.tenant).post(
        action_url(withdrawal, "reject"), {"reason": " "}, follow=True
    )
    assert "VALIDATION_ERROR" in response.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert balance_list(player=player)[0].held_minor == 2_000


def test_reject_double_click_voids_once_and_audits_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    client = operator_client(withdrawal.tenant)
    for _ in range(2):
        client.post(action_url(withdrawal, "reject"), {"reason": "fraud suspected"})
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REJECTED
    assert withdrawal.rejection_reason == "fraud suspected"
    assert balance_list(player=player)[0].available_minor == 10_000
    assert audits(withdrawal, "withdrawal.rejected") == 1


def test_mark_paid_double_click_posts_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    attempt = latest_attempt(withdrawal)
    client = operator_client(withdrawal.tenant)
    for _ in range(2):
        client.post(
            action_url(withdrawal, "mark-paid"),
            {"attempt": attempt.pk, "bank_reference": "SEPA-123"},
        )
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID
    assert (
        JournalTransaction.objects.filter(
            kind=JournalTransaction.Kind.WITHDRAWAL_POST
        ).count()
        == 1
    )
    assert audits(withdrawal, "withdrawal.paid") == 1


def test_mark_failed_double_click_audits_once():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    attempt = latest_attempt(withdrawal)
    client = operator_client(withdrawal.tenant)
    for _ in range(2):
        client.post(
            action_url(withdrawal, "mark-failed"),
            {"attempt": attempt.pk, "reason": "IBAN closed"},
        )
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_FAILED
    assert audits(withdrawal, "withdrawal.payout_failed") == 1
    assert balance_list(player=player)[0].held_minor == 2_000


def test_retry_double_click_starts_one_attempt(clock):
    player = verified_player()
    policy_set(player.tenant, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    failed = latest_attempt(withdrawal)
    client = operator_client(withdrawal.tenant)
    for _ in range(2):
        client.post(action_url(withdrawal, "retry"), {"attempt": failed.pk})
    assert withdrawal.attempts.count() == 2
    assert audits(withdrawal, "withdrawal.payout_retried") == 1


def test_a_refused_retry_shows_the_code_and_is_audited(clock):
    player = verified_player()
    policy_set(player.tenant, payout_retry_limit=0)
    withdrawal = withdrawal_payout_failed_once(player)
    response = operator_client(withdrawal.tenant).post(
        action_url(withdrawal, "retry"),
        {"attempt": latest_attempt(withdrawal).pk},
        follow=True,
    )
    assert "PAYMENT_RETRY_LIMIT_EXCEEDED" in response.content.decode()
    assert withdrawal.attempts.count() == 1
    assert audits(withdrawal, "withdrawal.payout_retry_blocked") == 1


def test_operators_cannot_edit_or_delete_withdrawals_through_forms():
    withdrawal = withdrawal_requested(verified_player())
    client = operator_client(withdrawal.tenant)
    assert client.post(page(withdrawal), {"state": "paid"}).status_code == 403
    assert client.get(f"{QUEUE}add/").status_code == 403
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED


# --- tenant policy edits in the admin -----------------------------------------------


def policy_form(tenant, **overrides) -> dict:
    policy = TenantPolicy.objects.get(tenant=tenant)
    data = {
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "1",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-id": str(policy.pk),
        "policy-0-tenant": str(tenant.pk),
        "policy-0-deposits_enabled": "on",
        "policy-0-withdrawals_enabled": "on",
        "policy-0-payout_retry_limit": "3",
        "policy-0-payout_cooldown_seconds": "60",
        "policy-0-kyc_required_for_withdrawal": "on",
        "policy-0-daily_deposit_limits": "{}",
        "policy-0-daily_withdrawal_limits": "{}",
        "policy-0-withdrawal_min_amounts": "{}",
        "policy-0-withdrawal_max_amounts": "{}",
        "policy-0-auto_approve_thresholds": "{}",
        "policy-0-withdrawal_velocity_max_requests": "",
        "policy-0-withdrawal_velocity_window_seconds": "3600",
        "policy-0-aml_cdd_thresholds": '{"EUR": "2000.00"}',
        "policy-0-aml_cdd_window_days": "30",
        "policy-0-affordability_thresholds": '{"GBP": "150.00"}',
        "policy-0-maker_checker_thresholds": '{"EUR": "5000.00"}',
        "policy-0-player_may_cancel_withdrawal": "on",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
    }
    data.update({f"policy-0-{k}": v for k, v in overrides.items()})
    return data


def test_an_operator_policy_edit_is_saved_and_audited_with_the_changed_fields():
    tenant = TenantFactory()
    client = operator_client(tenant)
    response = client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        policy_form(
            tenant,
            payout_retry_limit="0",
            payout_cooldown_seconds="0",
            daily_withdrawal_limits='{"EUR": "500.00"}',
        ),
    )
    assert response.status_code == 302
    policy = TenantPolicy.objects.get(tenant=tenant)
    assert (policy.payout_retry_limit, policy.payout_cooldown_seconds) == (0, 0)
    assert policy.daily_withdrawal_limits == {"EUR": 50000}
    event = AuditEvent.objects.get(action="tenant_policy.updated")
    assert event.after == {
        "payout_retry_limit": 0,
        "payout_cooldown_seconds": 0,
        "daily_withdrawal_limits": {"EUR": 50000},
    }
    assert event.before["payout_retry_limit"] == 3


def test_an_invalid_policy_edit_is_refused_with_the_field_error():
    tenant = TenantFactory()
    response = operator_client(tenant).post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        policy_form(tenant, daily_withdrawal_limits='{"EUR": "-0.01"}'),
    )
    assert response.status_code == 200
    assert "EUR: -0.01 is below zero." in response.content.decode()
    assert TenantPolicy.objects.get(tenant=tenant).daily_withdrawal_limits == {}
    assert not AuditEvent.objects.filter(action="tenant_policy.updated").exists()


def test_policy_amounts_are_shown_and_typed_in_major_units():
    tenant = TenantFactory()
    policy_set(tenant, withdrawal_min_amounts={"EUR": 1_000, "JPY": 500})
    client = operator_client(tenant)
    page = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert (
        "{&quot;EUR&quot;: &quot;10.00&quot;, &quot;JPY&quot;: &quot;500&quot;}" in page
    )

    response = client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        policy_form(tenant, withdrawal_min_amounts='{"EUR": "12.5", "KWD": 1.234}'),
    )
    assert response.status_code == 302
    policy = TenantPolicy.objects.get(tenant=tenant)
    assert policy.withdrawal_min_amounts == {"EUR": 1_250, "KWD": 1_234}


def test_a_policy_amount_with_too_many_decimals_is_refused():
    tenant = TenantFactory()
    response = operator_client(tenant).post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        policy_form(tenant, withdrawal_max_amounts='{"EUR": "10.001"}'),
    )
    assert response.status_code == 200
    assert "EUR: EUR has 2 decimal places." in response.content.decode()
    assert TenantPolicy.objects.get(tenant=tenant).withdrawal_max_amounts == {}


def test_a_cleared_limit_field_means_no_limits():
    tenant = TenantFactory()
    policy_set(tenant, daily_withdrawal_limits={"EUR": 100})
    response = operator_client(tenant).post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        policy_form(tenant, daily_withdrawal_limits=""),
    )
    assert response.status_code == 302
    assert TenantPolicy.objects.get(tenant=tenant).daily_withdrawal_limits == {}


def test_the_buttons_on_the_review_page_post_to_working_actions(clock):
    player = verified_player(balance_minor=10_000)
    policy_set(player.tenant, payout_cooldown_seconds=0)
    withdrawal = withdrawal_requested(player, 2_000)
    client = Client(enforce_csrf_checks=True)
    client.force_login(OperatorFactory(tenants=[withdrawal.tenant]))

    def press(button: str, **fields):
        html = client.get(page(withdrawal)).content.decode()
        form = re.search(
            r'<form method="post" action="([^"]+)">((?:(?!</form>).)*?value="'
            + button
            + '")',
            html,
            re.S,
        )
        hidden = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
        client.post(form.group(1), {**hidden, **fields})
        withdrawal.refresh_from_db()
        return withdrawal.state

    assert press("Approve") == Withdrawal.State.PAYOUT_PENDING
    assert press("Mark failed", reason="bounced") == Withdrawal.State.PAYOUT_FAILED
    assert press("Retry payout") == Withdrawal.State.PAYOUT_PENDING
    assert press("Mark paid", bank_reference="SEPA-9") == Withdrawal.State.PAID
    assert balance_list(player=player)[0].available_minor == 8_000

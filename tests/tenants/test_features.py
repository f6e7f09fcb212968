"""Feature flags: defaults, caching, audit, and the payment call sites that ask them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from common.actors import Actor
from payments.deposits.services import deposit_start
from payments.models import PaymentRoute
from payments.withdrawals.services import payout_provider_for
from tenants.exceptions import FeatureDisabled, ModuleTemporarilyDisabled
from tenants.features import (
    Feature,
    tenant_feature_enabled,
    tenant_feature_require,
    tenant_feature_set,
)
from tests.factories import PlayerFactory, TenantFactory
from tests.withdrawals.factories import (
    policy_set,
    verified_player,
    withdrawal_requested,
)
from wallet.models import Withdrawal

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def test_defaults_keep_existing_modules_on_and_affiliates_off():
    tenant = TenantFactory()

    assert tenant_feature_enabled(tenant=tenant, feature="crm")
    assert tenant_feature_enabled(tenant=tenant, feature="stripe")
    assert tenant_feature_enabled(tenant=tenant, feature="adyen")
    assert tenant_feature_enabled(tenant=tenant, feature="withdrawals_auto_approve")
    assert not tenant_feature_enabled(tenant=tenant, feature="affiliates")


def test_an_unknown_feature_is_a_programming_error():
    with pytest.raises(ValueError):
        tenant_feature_enabled(tenant=TenantFactory(), feature="crmm")


def test_flags_are_read_from_the_cache_after_the_first_read():
    tenant = TenantFactory()
    tenant_feature_enabled(tenant=tenant, feature="crm")

    with CaptureQueriesContext(connection) as queries:
        for feature in Feature.values:
            tenant_feature_enabled(tenant=tenant, feature=feature)

    assert len(queries) == 0


def test_disabled_is_403_and_killed_is_503():
    tenant = TenantFactory()
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature="crm", enabled=False)
    with pytest.raises(FeatureDisabled):
        tenant_feature_require(tenant=tenant, feature="crm")

    tenant_feature_set(
        actor=ACTOR, tenant=tenant, feature="crm", enabled=True, killed=True
    )
    with pytest.raises(ModuleTemporarilyDisabled) as killed:
        tenant_feature_require(tenant=tenant, feature="crm")

    assert killed.value.http_status == 503
    assert FeatureDisabled.http_status == 403


def test_every_change_is_audited_and_a_no_op_is_not():
    tenant = TenantFactory()

    tenant_feature_set(actor=ACTOR, tenant=tenant, feature="stripe", killed=True)
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature="stripe", killed=True)

    events = AuditEvent.objects.filter(action="tenant_feature.updated")
    assert [(e.before, e.after) for e in events] == [
        (
            {"feature": "stripe", "enabled": True, "killed": False},
            {"feature": "stripe", "enabled": True, "killed": True},
        )
    ]


# --- the payment call sites ---------------------------------------------------------


def test_a_deposit_through_a_disabled_psp_is_refused_before_anything_is_stored():
    player = PlayerFactory()
    tenant_feature_set(
        actor=ACTOR, tenant=player.tenant, feature="stripe", enabled=False
    )

    with pytest.raises(FeatureDisabled) as refused:
        deposit_start(
            player=player,
            amount_minor=1000,
            currency="EUR",
            idempotency_key="k1",
            return_url_for=lambda deposit: "https://example.com",
        )

    assert refused.value.details == {"feature": "stripe"}
    assert not player.deposits.exists()


def test_a_deposit_through_a_killed_psp_is_503():
    player = PlayerFactory()
    tenant_feature_set(actor=ACTOR, tenant=player.tenant, feature="stripe", killed=True)

    with pytest.raises(ModuleTemporarilyDisabled):
        deposit_start(
            player=player,
            amount_minor=1000,
            currency="EUR",
            idempotency_key="k1",
            return_url_for=lambda deposit: "https://example.com",
        )


def test_auto_approve_flag_off_sends_small_withdrawals_to_review():
    player = verified_player(email="w@example.com")
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 5_000})
    tenant_feature_set(
        actor=ACTOR,
        tenant=player.tenant,
        feature="withdrawals_auto_approve",
        enabled=False,
    )

    withdrawal = withdrawal_requested(player, 1_000, key="small")

    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert not withdrawal.auto_approved


def test_auto_approve_flag_on_keeps_auto_approving():
    player = verified_player(email="w@example.com")
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 5_000})

    withdrawal = withdrawal_requested(player, 1_000, key="small")

    assert withdrawal.auto_approved


def test_payout_routing_refuses_a_disabled_payout_psp():
    player = verified_player(email="w@example.com")
    PaymentRoute.objects.create(
        tenant=player.tenant,
        currency="",
        deposit_provider="stripe",
        payout_provider="adyen",
    )
    withdrawal = withdrawal_requested(player, 1_000, key="w")
    tenant_feature_set(
        actor=ACTOR, tenant=player.tenant, feature="adyen", enabled=False
    )

    with pytest.raises(FeatureDisabled):
        payout_provider_for(withdrawal)


def test_a_new_brand_has_a_row_per_feature_at_its_default():
    from tenants.models import TenantFeature

    tenant = TenantFactory()

    assert dict(
        TenantFeature.objects.filter(tenant=tenant).values_list("feature", "enabled")
    ) == {
        "crm": True,
        "affiliates": False,
        "adyen": True,
        "stripe": True,
        "withdrawals_auto_approve": True,
    }

"""The CRM in the admin: the gate (enabled, disabled, killed), the product header,
the attention index, the player 360 and its CRM edits, API keys shown once."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from common.actors import Actor
from crm import services
from crm.models import Note, NoteRevision, PlayerTag
from tenants.features import Feature, tenant_feature_enabled, tenant_feature_set
from tenants.models import ApiKey, TenantFeature
from tests.factories import fund
from tests.payments.factories import pending_deposit
from tests.withdrawals.factories import (
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_requested,
)
from wallet import services as wallet

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture
def op_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


CRM_PAGES = [
    "admin:crm_tag_changelist",
    "admin:crm_note_changelist",
    "admin:crm_segment_changelist",
    "admin:crm_campaign_changelist",
    "admin:crm_campaignsend_changelist",
]


@pytest.mark.parametrize("page", CRM_PAGES)
def test_crm_pages_open_for_a_brand_with_crm(page, op_client, player):
    assert op_client.get(reverse(page)).status_code == 200


@pytest.mark.parametrize("page", CRM_PAGES)
def test_crm_pages_refuse_a_brand_without_crm_with_a_clear_page(
    page, op_client, tenant
):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, enabled=False)

    response = op_client.get(reverse(page))

    assert response.status_code == 403
    html = response.content.decode()
    assert "FEATURE_DISABLED" in html
    assert "not part of this brand" in html


@pytest.mark.parametrize("page", CRM_PAGES)
def test_crm_pages_are_503_under_the_kill_switch(page, op_client, tenant):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, killed=True)

    response = op_client.get(reverse(page))

    assert response.status_code == 503
    assert "MODULE_TEMPORARILY_DISABLED" in response.content.decode()


def test_a_change_page_of_a_disabled_brand_is_refused(op_client, tenant, player):
    tag = services.tag_create(actor=ACTOR, tenant=tenant, name="vip")
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, enabled=False)

    response = op_client.get(reverse("admin:crm_tag_change", args=[tag.pk]))

    assert response.status_code == 403


def test_player_page_without_crm_shows_money_but_no_crm_panel(
    op_client, tenant, player
):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, enabled=False)
    fund(player, 1234)

    response = op_client.get(reverse("admin:casino_player_change", args=[player.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "12.34 EUR" in html
    assert "FEATURE_DISABLED" in html
    assert 'id="timeline"' not in html


def test_player_crm_post_is_refused_when_crm_is_killed(op_client, tenant, player):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, killed=True)

    response = op_client.post(
        reverse("admin:casino_player_crm", args=[player.pk, "note"]), {"body": "x"}
    )

    assert response.status_code == 503
    assert not Note.objects.exists()


def test_header_names_the_product_and_the_operators_brand(op_client, settings):
    settings.ADMIN_PRODUCT_NAME = "Acme Back-Office"

    html = op_client.get(reverse("admin:index")).content.decode()

    assert "Acme Back-Office · Alpha Casino" in html
    assert "Django administration" not in html


def test_index_starts_with_what_needs_attention(op_client, tenant, other_tenant):
    payee = verified_player(tenant=tenant, email="payee@example.com")
    withdrawal_requested(payee, 2_550, key="w1")
    theirs = verified_player(tenant=other_tenant, email="t@example.com")
    withdrawal_requested(theirs, 999, key="w2")

    html = op_client.get(reverse("admin:index")).content.decode()

    attention = html[html.index('id="attention"') :]
    counts = re.findall(r'class="attention-count">([^<]*)<', attention)
    assert counts[:3] == ["1", "0", "0"]  # one waiting under an hour, none older
    assert "25.50 EUR" in attention
    assert "9.99 EUR" not in attention
    # flagged deposits, open disputes, payouts failed, payouts with unknown outcome
    assert counts[3:] == ["0", "0", "0", "0"]


def test_player_page_crm_edits_go_through_the_services(op_client, tenant, player):
    tag = services.tag_create(actor=ACTOR, tenant=tenant, name="vip")
    url = lambda op: reverse("admin:casino_player_crm", args=[player.pk, op])  # noqa: E731

    op_client.post(url("tag"), {"tag": tag.pk})
    op_client.post(url("note"), {"body": "Prefers phone", "pinned": "on"})
    op_client.post(
        url("consent"), {"channel": "email", "granted": "yes", "source": "call"}
    )
    note = Note.objects.get()
    op_client.post(url("pin"), {"note": note.pk})
    page = op_client.get(reverse("admin:casino_player_change", args=[player.pk]))

    html = page.content.decode()
    assert PlayerTag.objects.filter(player=player, tag=tag).exists()
    assert NoteRevision.objects.filter(note=note).count() == 1
    assert "opted in" in html
    assert 'id="timeline"' in html
    assert "Tag &#x27;vip&#x27; added by alpha-op" in html
    assert {"crm.player_tagged", "crm.note_created", "crm.consent_changed"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )


def test_player_crm_post_for_another_brands_player_is_404(op_client, other_tenant):
    from tests.factories import PlayerFactory

    theirs = PlayerFactory(tenant=other_tenant)

    response = op_client.post(
        reverse("admin:casino_player_crm", args=[theirs.pk, "note"]), {"body": "x"}
    )

    assert response.status_code == 404


def test_another_brands_tag_cannot_be_put_on_a_player(op_client, player, other_tenant):
    theirs = services.tag_create(actor=ACTOR, tenant=other_tenant, name="theirs")

    op_client.post(
        reverse("admin:casino_player_crm", args=[player.pk, "tag"]), {"tag": theirs.pk}
    )

    assert not PlayerTag.objects.exists()


def test_api_key_is_shown_once_and_stored_hashed(op_client, tenant):
    response = op_client.post(
        reverse("admin:tenants_apikey_add"),
        {"tenant": tenant.pk, "name": "crm tool", "scopes": ["crm:read"]},
    )

    raw = re.search(r'id="raw-api-key"[^>]*>([^<]+)<', response.content.decode())[1]
    key = ApiKey.objects.get()
    assert "no-store" in response["Cache-Control"]
    assert key.scopes == ["crm:read"]
    assert (
        raw
        not in op_client.get(
            reverse("admin:tenants_apikey_change", args=[key.pk])
        ).content.decode()
    )
    assert AuditEvent.objects.filter(action="api_key.created").exists()


def test_api_key_revoked_in_the_admin_stops_working(op_client, tenant, api_client):
    from tests.crm.conftest import make_key

    key, raw = make_key(tenant)

    op_client.post(
        reverse("admin:tenants_apikey_changelist"),
        {
            "action": "revoke_keys",
            "_selected_action": [key.pk],
            "post": "yes",
            "reason": "leaked",
        },
    )

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_client.get("/api/v1/crm/tags", HTTP_X_API_KEY=raw).status_code == 401


def test_operator_pulls_the_kill_switch_but_cannot_enable_modules(op_client, tenant):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, enabled=True)
    row = TenantFeature.objects.get(tenant=tenant, feature="crm")

    op_client.post(
        reverse("admin:tenants_tenantfeature_change", args=[row.pk]),
        {"killed": "on", "enabled": ""},
    )

    row.refresh_from_db()
    assert (row.enabled, row.killed) == (True, True)
    assert not tenant_feature_enabled(tenant=tenant, feature=Feature.CRM)
    event = AuditEvent.objects.filter(action="tenant_feature.updated").latest("id")
    assert event.after == {"feature": "crm", "enabled": True, "killed": True}


def test_every_crm_and_key_admin_is_tenant_scoped_and_so_in_the_isolation_tests():
    from django.contrib import admin

    from tenants.admin import TenantScopedAdmin

    labels = {
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, TenantScopedAdmin)
    }
    assert {
        "crm.Tag",
        "crm.Note",
        "crm.Segment",
        "crm.Campaign",
        "crm.CampaignSend",
        "tenants.ApiKey",
        "tenants.TenantFeature",
    } <= labels


def test_tag_description_edit_is_audited_and_crm_rows_cannot_be_deleted(
    op_client, tenant
):
    tag = services.tag_create(actor=ACTOR, tenant=tenant, name="vip")

    op_client.post(
        reverse("admin:crm_tag_change", args=[tag.pk]), {"description": "Big spenders"}
    )
    delete = op_client.post(
        reverse("admin:crm_tag_delete", args=[tag.pk]), {"post": "yes"}
    )

    tag.refresh_from_db()
    assert tag.description == "Big spenders"
    event = AuditEvent.objects.get(action="crm.tag_updated")
    assert event.after == {"description": "Big spenders"}
    assert delete.status_code == 403


def test_index_counts_failed_payouts_and_flagged_deposits(op_client, tenant):
    payee = verified_player(tenant=tenant, email="payee@example.com")
    withdrawal_payout_failed_once(payee)
    deposit = pending_deposit(payee)
    wallet.deposit_flag_review(
        deposit_id=deposit.pk, tenant_id=tenant.pk, actor=ACTOR, reason="odd"
    )

    html = op_client.get(reverse("admin:index")).content.decode()

    counts = re.findall(r'class="attention-count">([^<]*)<', html)
    assert counts[3:] == ["1", "0", "1", "0"]

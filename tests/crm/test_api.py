"""The operator API: API keys (hashed, scoped, revocable, last use recorded), the CRM
feature gate and the brand boundary."""

import pytest

from audit.models import AuditEvent
from common.actors import Actor
from crm import services
from tenants.api_keys import api_key_revoke, key_hash
from tenants.features import Feature, tenant_feature_set
from tenants.models import ApiKey
from tests.crm.conftest import KeyClient, make_key

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def test_a_key_is_stored_only_as_its_hash(tenant):
    key, raw = make_key(tenant)

    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == key_hash(raw)
    assert raw not in str(list(ApiKey.objects.values()))
    assert raw.startswith(stored.prefix + ".")


def test_missing_unknown_and_revoked_keys_are_401_api_key_invalid(crm_api, tenant):
    key, raw = make_key(tenant)
    api_key_revoke(actor=ACTOR, key=key)

    for sent in ["", "nope", raw, raw + "x"]:
        response = crm_api.get("/api/v1/crm/tags", key=sent)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "API_KEY_INVALID"


def test_a_player_token_is_no_api_key(api_client, player):
    from tests.factories import token_for

    response = api_client.get(
        "/api/v1/crm/tags", HTTP_AUTHORIZATION=f"Bearer {token_for(player)}"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "API_KEY_INVALID"


def test_read_scope_cannot_write_and_write_scope_cannot_read(api_client, tenant):
    _, read_only = make_key(tenant, scopes=["crm:read"])
    _, write_only = make_key(tenant, scopes=["crm:write"])
    reader = KeyClient(api_client, read_only)
    writer = KeyClient(api_client, write_only)

    refused_write = reader.post("/api/v1/crm/tags", {"name": "vip"})
    refused_read = writer.get("/api/v1/crm/tags")
    allowed_write = writer.post("/api/v1/crm/tags", {"name": "vip"})
    allowed_read = reader.get("/api/v1/crm/tags")

    assert refused_write.status_code == 403
    assert refused_write.json()["error"]["code"] == "API_KEY_SCOPE_MISSING"
    assert refused_write.json()["error"]["details"]["required_scope"] == "crm:write"
    assert refused_read.status_code == 403
    assert allowed_write.status_code == 201
    assert [t["name"] for t in allowed_read.json()] == ["vip"]


def test_a_payments_key_cannot_use_the_crm_api(api_client, tenant):
    _, raw = make_key(tenant, scopes=["payments:read"])

    response = KeyClient(api_client, raw).get("/api/v1/crm/players")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "API_KEY_SCOPE_MISSING"


def test_last_use_is_recorded_and_audited_once_a_minute(crm_api, tenant):
    crm_api.get("/api/v1/crm/tags")
    crm_api.get("/api/v1/crm/tags")

    key = ApiKey.objects.get(tenant=tenant)
    assert key.last_used_at is not None
    assert (
        AuditEvent.objects.filter(action="api_key.used", tenant_id=tenant.pk).count()
        == 1
    )


def test_crm_edits_are_audited_with_the_key_as_actor(crm_api, tenant, player):
    crm_api.post(f"/api/v1/crm/players/{player.pk}/notes", {"body": "VIP call"})

    event = AuditEvent.objects.get(action="crm.note_created")
    key = ApiKey.objects.get(tenant=tenant)
    assert event.actor_label == f"api-key:{key.prefix} (tool)"
    assert "VIP call" not in str(event.after)


# --- the feature gate: enabled, disabled, killed ----------------------------------


def test_brand_with_crm_gets_200(crm_api):
    assert crm_api.get("/api/v1/crm/segments").status_code == 200


def test_brand_without_crm_gets_403_feature_disabled(crm_api, tenant):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, enabled=False)

    response = crm_api.get("/api/v1/crm/segments")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FEATURE_DISABLED"
    assert response.json()["error"]["details"] == {"feature": "crm"}


def test_killed_crm_gets_503_module_temporarily_disabled(crm_api, tenant):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, killed=True)

    response = crm_api.post("/api/v1/crm/tags", {"name": "vip"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "MODULE_TEMPORARILY_DISABLED"


def test_releasing_the_kill_switch_works_at_once(crm_api, tenant):
    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, killed=True)
    assert crm_api.get("/api/v1/crm/tags").status_code == 503

    tenant_feature_set(actor=ACTOR, tenant=tenant, feature=Feature.CRM, killed=False)

    assert crm_api.get("/api/v1/crm/tags").status_code == 200


def test_another_brands_flag_does_not_gate_this_brand(crm_api, other_tenant):
    tenant_feature_set(
        actor=ACTOR, tenant=other_tenant, feature=Feature.CRM, enabled=False
    )

    assert crm_api.get("/api/v1/crm/tags").status_code == 200


# --- the operations -----------------------------------------------------------------


def test_player_search_tag_note_consent_and_detail(crm_api, player, tenant):
    tag = crm_api.post("/api/v1/crm/tags", {"name": "vip"}).json()
    crm_api.post(f"/api/v1/crm/players/{player.pk}/tags", {"tag_id": tag["id"]})
    note = crm_api.post(
        f"/api/v1/crm/players/{player.pk}/notes", {"body": "Likes slots"}
    ).json()
    crm_api.patch(f"/api/v1/crm/notes/{note['id']}", {"pinned": True})
    crm_api.put(
        f"/api/v1/crm/players/{player.pk}/consent",
        {"channel": "email", "granted": True, "source": "crm-tool"},
    )

    found = crm_api.get("/api/v1/crm/players", {"q": "ann", "tag": "vip"}).json()
    detail = crm_api.get(f"/api/v1/crm/players/{player.pk}").json()
    timeline = crm_api.get(f"/api/v1/crm/players/{player.pk}/timeline").json()

    assert [p["email"] for p in found["results"]] == ["ann@example.com"]
    assert detail["tags"] == ["vip"]
    assert [n["body"] for n in detail["pinned_notes"]] == ["Likes slots"]
    assert detail["consents"][0]["granted"] is True
    assert {"note", "tag", "account"} <= {i["kind"] for i in timeline["results"]}


def test_segment_and_campaign_through_the_api(crm_api, player):
    crm_api.put(
        f"/api/v1/crm/players/{player.pk}/consent",
        {"channel": "email", "granted": True, "source": "crm-tool"},
    )
    segment = crm_api.post(
        "/api/v1/crm/segments",
        {"name": "All", "rules": {"kyc_status_in": ["unverified"]}},
    ).json()
    refreshed = crm_api.post(f"/api/v1/crm/segments/{segment['id']}/refresh").json()
    campaign = crm_api.post(
        "/api/v1/crm/campaigns",
        {
            "name": "Hello",
            "segment_id": segment["id"],
            "subject_template": "Hi {{ player.display_name }}",
            "body_template": "Hello",
        },
    ).json()

    first = crm_api.post(f"/api/v1/crm/campaigns/{campaign['id']}/send").json()
    again = crm_api.post(f"/api/v1/crm/campaigns/{campaign['id']}/send").json()

    assert refreshed["member_count"] == 1
    assert first["counts"]["sent"] == 1
    assert again["counts"].get("sent", 0) == 0
    assert again["counts"]["already_done"] == 1


def test_bad_rules_are_400_segment_rules_invalid_and_store_nothing(crm_api):
    response = crm_api.post(
        "/api/v1/crm/segments", {"name": "Bad", "rules": {"country_in": "DE"}}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "SEGMENT_RULES_INVALID"
    assert crm_api.get("/api/v1/crm/segments").json() == []


@pytest.mark.parametrize("body", [b"\xff\xfe", b"{", b"[]", b'{"name": null}'])
def test_garbage_bodies_are_4xx(api_client, tenant, body):
    _, raw = make_key(tenant)

    response = api_client.generic(
        "POST",
        "/api/v1/crm/tags",
        body,
        content_type="application/json",
        HTTP_X_API_KEY=raw,
    )

    assert 400 <= response.status_code < 500


def test_duplicate_tag_is_409(crm_api):
    crm_api.post("/api/v1/crm/tags", {"name": "vip"})

    response = crm_api.post("/api/v1/crm/tags", {"name": "VIP"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "TAG_ALREADY_EXISTS"


def test_schema_documents_the_crm_api_and_its_key(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    assert "/api/v1/crm/segments" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    operation = schema["paths"]["/api/v1/crm/segments"]["post"]
    assert {"apiKey": []} in operation["security"]
    assert "crm:write" in operation["description"]


def test_service_created_rows_are_visible_through_the_api(crm_api, tenant):
    services.tag_create(actor=ACTOR, tenant=tenant, name="whale")

    assert [t["name"] for t in crm_api.get("/api/v1/crm/tags").json()] == ["whale"]


def test_an_unknown_timeline_kind_is_400(crm_api, player):
    response = crm_api.get(f"/api/v1/crm/players/{player.pk}/timeline", {"kind": "x"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"

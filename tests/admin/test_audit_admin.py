import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from common.actors import Actor

pytestmark = pytest.mark.django_db

SECRET = "sk_live_51HxYzAbCdEfGh12345678"


def test_audit_pages_show_no_secrets(brand_a):
    event = audit_record(
        actor=Actor.for_user(brand_a.operator),
        action="psp_config.updated",
        tenant_id=brand_a.tenant.pk,
        before={"api_key": "sk_live_old0000000000000"},
        after={
            "api_key": SECRET,
            "nested": {"note": SECRET, "webhook": "whsec_abcdefgh1234"},
        },
    )

    page = brand_a.client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    listing = brand_a.client.get(reverse("admin:audit_auditevent_changelist"))

    html = page.content.decode() + listing.content.decode()
    assert page.status_code == 200
    assert "sk_live_" not in html
    assert "whsec_" not in html
    assert "[REDACTED]" in page.content.decode()


def test_operator_does_not_see_events_without_a_tenant(brand_a):
    platform = audit_record(
        actor=Actor.system("ops"), action="platform.maintenance", tenant_id=None
    )

    listing = brand_a.client.get(reverse("admin:audit_auditevent_changelist"))
    page = brand_a.client.get(
        reverse("admin:audit_auditevent_change", args=[platform.pk])
    )

    assert platform not in listing.context["cl"].queryset
    assert page.status_code == 404


def test_superuser_sees_events_without_a_tenant(superuser_client):
    platform = audit_record(
        actor=Actor.system("ops"), action="platform.maintenance", tenant_id=None
    )

    listing = superuser_client.get(reverse("admin:audit_auditevent_changelist"))

    assert platform in listing.context["cl"].queryset


def test_audit_filters_by_target_and_by_action(brand_a):
    changelist = reverse("admin:audit_auditevent_changelist")

    by_target = brand_a.client.get(
        changelist,
        {"target_type": "casino.Player", "target_id": str(brand_a.player.pk)},
    )
    by_action = brand_a.client.get(changelist, {"action": "player.status_changed"})

    targets = {(e.target_type, e.target_id) for e in by_target.context["cl"].queryset}
    assert targets == {("casino.Player", str(brand_a.player.pk))}
    actions = {e.action for e in by_action.context["cl"].queryset}
    assert actions == {"player.status_changed"}


def test_audit_filters_by_operator_and_by_day_range(brand_a):
    changelist = reverse("admin:audit_auditevent_changelist")
    mine = audit_record(
        actor=Actor.for_user(brand_a.operator),
        action="test.by_operator",
        tenant_id=brand_a.tenant.pk,
    )
    today = mine.created_at.date().isoformat()

    by_operator = brand_a.client.get(
        changelist, {"actor_user": str(brand_a.operator.pk)}
    )
    from_today = brand_a.client.get(
        changelist, {"created_from": today, "created_until": today}
    )
    tomorrow_on = brand_a.client.get(changelist, {"created_from": "2999-01-01"})
    garbage = brand_a.client.get(changelist, {"created_from": "yesterday"})

    assert mine in by_operator.context["cl"].queryset
    assert {e.actor_user_id for e in by_operator.context["cl"].queryset} == {
        brand_a.operator.pk
    }
    assert mine in from_today.context["cl"].queryset
    assert not tomorrow_on.context["cl"].queryset.exists()
    assert garbage.status_code == 200
    assert not garbage.context["cl"].queryset.exists()


def test_audit_changelist_never_counts_the_whole_table(brand_a, superuser_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(reverse("admin:audit_auditevent_changelist"))

    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the changelist counts something"
    assert all("LIMIT" in sql.upper() for sql in counts), counts
    assert 'DISTINCT "audit_auditevent"' not in " ".join(q["sql"] for q in queries)


def test_operator_without_the_export_permission_cannot_export(brand_a):
    response = brand_a.client.get(reverse("admin:audit_auditevent_export"))

    assert response.status_code == 403


def test_operator_with_the_permission_exports_their_brand_and_it_is_recorded(
    brand_a,
):
    brand_a.operator.user_permissions.add(
        Permission.objects.get(codename="export_auditevent")
    )
    form = brand_a.client.get(reverse("admin:audit_auditevent_export"))

    response = brand_a.client.get(
        reverse("admin:audit_auditevent_export"),
        {"tenant": brand_a.tenant.pk, "format": "jsonl"},
    )
    rows = [
        json.loads(line) for line in b"".join(response.streaming_content).splitlines()
    ]

    assert form.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert {row["tenant_id"] for row in rows} == {brand_a.tenant.pk}
    assert rows[-1]["action"] == "audit.exported"
    assert rows[-1]["actor_user_id"] == brand_a.operator.pk
    assert "sk_live_" not in json.dumps(rows)


def test_operator_cannot_export_another_brand(brand_a, brand_b):
    brand_a.operator.user_permissions.add(
        Permission.objects.get(codename="export_auditevent")
    )

    response = brand_a.client.get(
        reverse("admin:audit_auditevent_export"),
        {"tenant": brand_b.tenant.pk, "format": "csv"},
    )

    assert response.status_code == 200
    assert not response.streaming
    assert brand_b.tenant.name not in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_superuser_exports_any_brand_as_csv(brand_b, superuser_client):
    response = superuser_client.get(
        reverse("admin:audit_auditevent_export"),
        {"tenant": brand_b.tenant.pk, "format": "csv"},
    )
    body = b"".join(response.streaming_content).decode()

    assert response["Content-Type"] == "text/csv"
    assert body.splitlines()[0].startswith("id,seq,prev_hash,hash,created_at")
    assert AuditEvent.objects.filter(
        tenant=brand_b.tenant, action="audit.exported"
    ).exists()


def test_nobody_changes_or_deletes_audit_events(brand_a, superuser_client):
    event = AuditEvent.objects.filter(tenant=brand_a.tenant).first()

    change = superuser_client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"reason": "x"}
    )
    delete = superuser_client.get(
        reverse("admin:audit_auditevent_delete", args=[event.pk])
    )

    assert (change.status_code, delete.status_code) == (403, 403)

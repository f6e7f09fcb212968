import pytest
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


def test_audit_search_by_target_and_filter_by_action(brand_a):
    changelist = reverse("admin:audit_auditevent_changelist")

    by_target = brand_a.client.get(
        changelist, {"q": f"casino.Player {brand_a.player.pk}"}
    )
    by_action = brand_a.client.get(changelist, {"action": "player.status_changed"})

    targets = {(e.target_type, e.target_id) for e in by_target.context["cl"].queryset}
    assert targets == {("casino.Player", str(brand_a.player.pk))}
    actions = {e.action for e in by_action.context["cl"].queryset}
    assert actions == {"player.status_changed"}


def test_nobody_changes_or_deletes_audit_events(brand_a, superuser_client):
    event = AuditEvent.objects.filter(tenant=brand_a.tenant).first()

    change = superuser_client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"reason": "x"}
    )
    delete = superuser_client.get(
        reverse("admin:audit_auditevent_delete", args=[event.pk])
    )

    assert (change.status_code, delete.status_code) == (403, 403)

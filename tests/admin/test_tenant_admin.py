import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tenants.models import Tenant, TenantPolicy

pytestmark = pytest.mark.django_db


def post_data(response) -> dict:
    """The change form's current values, as the browser would post them back."""
    forms = [response.context["adminform"].form]
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        forms.append(management)
        forms.extend(inline.formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


def change_url(tenant) -> str:
    return reverse("admin:tenants_tenant_change", args=[tenant.pk])


def test_operator_policy_edit_is_audited_with_before_and_after(brand_a):
    page = brand_a.client.get(change_url(brand_a.tenant))
    data = post_data(page)
    del data["policy-0-deposits_enabled"]

    response = brand_a.client.post(change_url(brand_a.tenant), data)

    assert response.status_code == 302
    assert TenantPolicy.objects.get(tenant=brand_a.tenant).deposits_enabled is False
    event = AuditEvent.objects.get(action="tenant_policy.updated")
    assert event.before == {"deposits_enabled": True}
    assert event.after == {"deposits_enabled": False}
    assert event.actor_user == brand_a.operator
    assert event.tenant == brand_a.tenant


def test_unchanged_policy_save_writes_no_audit_event(brand_a):
    page = brand_a.client.get(change_url(brand_a.tenant))

    brand_a.client.post(change_url(brand_a.tenant), post_data(page))

    assert not AuditEvent.objects.filter(action="tenant_policy.updated").exists()


def test_operator_cannot_rename_or_suspend_their_brand(brand_a):
    page = brand_a.client.get(change_url(brand_a.tenant))
    data = post_data(page) | {"name": "Renamed", "status": "suspended"}

    brand_a.client.post(change_url(brand_a.tenant), data)

    brand_a.tenant.refresh_from_db()
    assert (brand_a.tenant.name, brand_a.tenant.status) == ("Alpha Brand", "active")


def test_superuser_suspending_a_brand_is_audited(brand_a, superuser_client):
    page = superuser_client.get(change_url(brand_a.tenant))
    data = post_data(page) | {"status": "suspended"}

    response = superuser_client.post(change_url(brand_a.tenant), data)

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="tenant.updated")
    assert (event.before, event.after) == (
        {"status": "active"},
        {"status": "suspended"},
    )


def test_superuser_adding_a_brand_creates_its_policy(superuser_client):
    page = superuser_client.get(reverse("admin:tenants_tenant_add"))
    data = post_data(page) | {
        "slug": "gamma",
        "name": "Gamma",
        "default_currency": "EUR",
        "allowed_currencies": "[]",
    }

    response = superuser_client.post(reverse("admin:tenants_tenant_add"), data)

    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="gamma")
    assert TenantPolicy.objects.filter(tenant=tenant).exists()
    assert AuditEvent.objects.filter(action="tenant.created", tenant=tenant).exists()


def test_operator_cannot_add_brands(brand_a):
    response = brand_a.client.get(reverse("admin:tenants_tenant_add"))

    assert response.status_code == 403


def test_superuser_adding_an_operator_to_a_brand_is_audited(brand_a, superuser_client):
    from tests.factories import OperatorFactory

    newcomer = OperatorFactory(username="newcomer")
    page = superuser_client.get(change_url(brand_a.tenant))
    data = post_data(page)
    data["operators"] = [brand_a.operator.pk, newcomer.pk]

    superuser_client.post(change_url(brand_a.tenant), data)

    event = AuditEvent.objects.get(action="tenant.operators_changed")
    assert event.before == {"operators": ["alpha-op"]}
    assert event.after == {"operators": ["alpha-op", "newcomer"]}
    assert newcomer.operator_tenants.get() == brand_a.tenant


def test_not_even_a_superuser_can_delete_a_brand(brand_a, superuser_client):
    delete_url = reverse("admin:tenants_tenant_delete", args=[brand_a.tenant.pk])

    page = superuser_client.get(change_url(brand_a.tenant))
    forged = superuser_client.post(delete_url, {"post": "yes"})

    assert page.status_code == 200
    assert delete_url not in page.content.decode()
    assert forged.status_code == 403
    assert Tenant.objects.filter(pk=brand_a.tenant.pk).exists()

"""No registered admin filters, searches or sorts through a secret field: not the
password hashes of operators or players, not any encrypted PSP credential, not an
OTP key. Driven by the admin registry, so an admin added later is covered."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from casino.admin_guard import is_sensitive_field, touches_sensitive_field
from casino.admin_site import OperatorAdminSite

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def label(item) -> str:
    return item[0]._meta.label


def sensitive_paths(model, depth: int = 2, prefix: str = "") -> list[str]:
    """Every lookup path to a sensitive field, through forward relations."""
    paths = []
    for field in model._meta.get_fields():
        if not getattr(field, "concrete", False):
            continue
        if is_sensitive_field(field):
            paths.append(prefix + field.name)
        elif field.is_relation and field.related_model and depth > 1:
            paths += sensitive_paths(
                field.related_model, depth - 1, f"{prefix}{field.name}__"
            )
    return paths


ALL_PATHS = [(item, path) for item in REGISTERED for path in sensitive_paths(item[0])]


def test_the_guard_sees_the_known_secrets():
    found = {(label(item), path) for item, path in ALL_PATHS}
    assert {
        ("auth.User", "password"),
        ("casino.Player", "password"),
        ("payments.PSPConfig", "secret_key_encrypted"),
        ("payments.PSPConfig", "webhook_secret_encrypted"),
        ("payments.PSPConfig", "hmac_key_encrypted"),
        ("wallet.Withdrawal", "destination_encrypted"),
        ("wallet.Withdrawal", "player__password"),
        ("otp_totp.TOTPDevice", "key"),
    } <= found


@pytest.mark.parametrize(
    ("item", "path"), ALL_PATHS, ids=[f"{label(i)}:{p}" for i, p in ALL_PATHS]
)
@pytest.mark.parametrize("lookup", ["startswith", "regex", "exact"])
def test_changelist_lookup_through_a_secret_field_is_refused(
    item, path, lookup, superuser_client
):
    model, _ = item
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    response = superuser_client.get(url, {f"{path}__{lookup}": "pbkdf2"})

    assert response.status_code == 400


@pytest.mark.parametrize("item", REGISTERED, ids=label)
def test_password_lookup_is_refused_or_meaningless_on_every_admin(
    item, superuser_client
):
    model, _ = item
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    response = superuser_client.get(url, {"password__startswith": "pbkdf2"})

    # 400: refused; 302 to ?e=1: the model has no such field (Django's answer).
    assert response.status_code in (400, 302)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("item", REGISTERED, ids=label)
def test_no_search_field_or_sortable_column_is_a_secret(item, superuser_client):
    model, model_admin = item
    request = RequestFactory().get("/")

    searchable = model_admin.get_search_fields(request)
    sortable = [
        name for name in model_admin.get_sortable_by(request) if isinstance(name, str)
    ]

    assert not [p for p in searchable if touches_sensitive_field(model, p)]
    assert not [p for p in sortable if touches_sensitive_field(model, p)]


def test_sorting_by_a_secret_column_is_ignored(superuser_client):
    site = OperatorAdminSite(name="sorting-test")

    class ShowsPassword(admin.ModelAdmin):
        list_display = ("username", "password")

    site.register(get_user_model(), ShowsPassword)
    model_admin = site._registry[get_user_model()]
    request = RequestFactory().get("/", {"o": "2.1"})
    request.user = get_user_model().objects.get(username="root")

    changelist = model_admin.get_changelist_instance(request)

    assert "password" not in model_admin.get_sortable_by(request)
    assert "-password" not in changelist.get_ordering(request, changelist.root_queryset)
    assert "password" not in changelist.get_ordering(request, changelist.root_queryset)

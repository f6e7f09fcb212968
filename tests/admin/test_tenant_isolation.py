"""Every admin page registered (now or later) is tenant-scoped for operators."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tenants.admin import TenantScopedAdmin

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
SCOPED = [(m, ma) for m, ma in REGISTERED if isinstance(ma, TenantScopedAdmin)]
UNSCOPED = [(m, ma) for m, ma in REGISTERED if not isinstance(ma, TenantScopedAdmin)]


def label(item) -> str:
    return item[0]._meta.label


def url(model, view: str, *args) -> str:
    return reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args
    )


def tenant_ids(model_admin, pks) -> set[int]:
    lookup = model_admin.tenant_field or "pk"
    return set(
        model_admin.model._default_manager.filter(pk__in=pks).values_list(
            lookup, flat=True
        )
    )


def rows_of(model_admin, tenant) -> list[int]:
    lookup = model_admin.tenant_field or "pk"
    return list(
        model_admin.model._default_manager.filter(**{lookup: tenant.pk}).values_list(
            "pk", flat=True
        )
    )


def test_the_registry_has_the_foundation_admins():
    labels = {label(item) for item in SCOPED}
    assert {
        "tenants.Tenant",
        "casino.Player",
        "wallet.Account",
        "wallet.JournalTransaction",
        "wallet.Entry",
        "wallet.Hold",
        "audit.AuditEvent",
    } <= labels


@pytest.mark.parametrize("item", SCOPED, ids=label)
def test_operator_changelist_shows_only_their_tenants_rows(item, brand_a, brand_b):
    model, model_admin = item
    other_rows = rows_of(model_admin, brand_b.tenant)
    assert other_rows, "fixture must hold a tenant-B row of every admin model"

    response = brand_a.client.get(url(model, "changelist"))

    assert response.status_code == 200
    shown = list(response.context["cl"].queryset.values_list("pk", flat=True))
    assert tenant_ids(model_admin, shown) == {brand_a.tenant.pk}
    html = response.content.decode()
    for pk in other_rows:
        assert url(model, "change", pk) not in html
    assert brand_b.tenant.name not in html


@pytest.mark.parametrize("item", SCOPED, ids=label)
def test_operator_gets_404_on_another_tenants_change_page(item, brand_a, brand_b):
    model, model_admin = item
    other_pk = rows_of(model_admin, brand_b.tenant)[0]

    response = brand_a.client.get(url(model, "change", other_pk))

    assert response.status_code == 404


@pytest.mark.parametrize("item", SCOPED, ids=label)
def test_operator_gets_404_on_another_tenants_history_page(item, brand_a, brand_b):
    model, model_admin = item
    other_pk = rows_of(model_admin, brand_b.tenant)[0]

    response = brand_a.client.get(url(model, "history", other_pk))

    assert response.status_code == 404


@pytest.mark.parametrize("item", SCOPED, ids=label)
def test_superuser_changelist_shows_every_tenant(
    item, brand_a, brand_b, superuser_client
):
    model, model_admin = item

    response = superuser_client.get(url(model, "changelist"))

    shown = list(response.context["cl"].queryset.values_list("pk", flat=True))
    assert {brand_a.tenant.pk, brand_b.tenant.pk} <= tenant_ids(model_admin, shown)


@pytest.mark.parametrize("item", UNSCOPED, ids=label)
def test_operator_cannot_open_admins_that_are_not_tenant_scoped(item, brand_a):
    model, _ = item

    response = brand_a.client.get(url(model, "changelist"))

    assert response.status_code == 403


def test_tenant_filter_lists_only_the_operators_brands(brand_a, brand_b):
    response = brand_a.client.get(reverse("admin:casino_player_changelist"))

    html = response.content.decode()
    assert brand_a.tenant.name in html
    assert brand_b.tenant.name not in html


def test_player_ledger_link_with_another_brands_player_id_shows_nothing(
    brand_a, brand_b
):
    response = brand_a.client.get(
        reverse("admin:wallet_entry_changelist"),
        {"account__player__id__exact": brand_b.player.pk},
    )

    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == []


def test_operator_gets_404_on_another_brands_adjustment_page(brand_a, brand_b):
    response = brand_a.client.get(
        reverse("admin:casino_player_adjust", args=[brand_b.player.pk])
    )

    assert response.status_code == 404


SEARCHABLE = [item for item in SCOPED if item[1].search_fields]


@pytest.mark.parametrize("item", SEARCHABLE, ids=label)
@pytest.mark.parametrize("term", ["42", "alpha-player@example.com", "zz top"])
def test_every_search_answers_for_any_term(item, term, brand_a, brand_b):
    model, model_admin = item

    response = brand_a.client.get(url(model, "changelist"), {"q": term})

    assert response.status_code == 200
    shown = list(response.context["cl"].queryset.values_list("pk", flat=True))
    assert tenant_ids(model_admin, shown) <= {brand_a.tenant.pk}


@pytest.mark.parametrize("item", SCOPED, ids=label)
def test_every_changelist_filter_answers(item, brand_a, superuser_client):
    model, _ = item
    response = superuser_client.get(url(model, "changelist"))

    for spec in response.context["cl"].filter_specs:
        for choice in spec.choices(response.context["cl"]):
            query = choice["query_string"]
            assert (
                superuser_client.get(url(model, "changelist") + query).status_code
                == 200
            )


#: The account list derives each *system* account's balance from its entries (one SUM
#: per shown system account, by design: they are never cached or locked).
PER_ROW_QUERIES_BY_DESIGN = {"wallet.Account"}


@pytest.mark.parametrize(
    "item",
    [i for i in SCOPED if label(i) not in PER_ROW_QUERIES_BY_DESIGN],
    ids=label,
)
def test_changelist_query_count_does_not_grow_with_rows(
    item, request, brand_a, superuser_client, django_assert_max_num_queries
):
    model, _ = item
    with django_assert_max_num_queries(50) as one_brand:
        superuser_client.get(url(model, "changelist"))
    request.getfixturevalue("brand_b")  # as many rows again

    with django_assert_max_num_queries(len(one_brand.captured_queries)):
        superuser_client.get(url(model, "changelist"))

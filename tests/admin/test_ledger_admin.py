import pytest
from django.urls import reverse

from wallet.models import Account, Entry, Hold, JournalTransaction
from wallet.selectors import ledger_invariants_check

pytestmark = pytest.mark.django_db

LEDGER_MODELS = [Account, JournalTransaction, Entry, Hold]


def url(model, view: str, *args) -> str:
    return reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args
    )


def some_pk(model, tenant) -> int:
    return model.objects.filter(tenant=tenant).values_list("pk", flat=True)[0]


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_operator_cannot_add_change_or_delete_ledger_rows(model, brand_a):
    pk = some_pk(model, brand_a.tenant)
    count = model.objects.count()

    add = brand_a.client.get(url(model, "add"))
    delete = brand_a.client.post(url(model, "delete", pk), {"post": "yes"})
    change = brand_a.client.post(url(model, "change", pk), {"currency": "USD"})
    view = brand_a.client.get(url(model, "change", pk))

    assert (add.status_code, delete.status_code, change.status_code) == (
        403,
        403,
        403,
    )
    assert view.status_code == 200
    assert model.objects.count() == count


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_even_a_superuser_cannot_add_or_delete_ledger_rows(
    model, brand_a, superuser_client
):
    pk = some_pk(model, brand_a.tenant)

    add = superuser_client.get(url(model, "add"))
    delete = superuser_client.get(url(model, "delete", pk))

    assert (add.status_code, delete.status_code) == (403, 403)


def test_ledger_changelists_offer_no_delete_action(brand_a, superuser_client):
    response = superuser_client.get(url(Entry, "changelist"))

    assert "delete_selected" not in response.content.decode()


def test_transaction_page_shows_its_entries(brand_a):
    txn = JournalTransaction.objects.filter(
        tenant=brand_a.tenant, kind="adjustment"
    ).first()

    response = brand_a.client.get(url(JournalTransaction, "change", txn.pk))

    html = response.content.decode()
    assert "2.50 EUR" in html
    assert "-2.50 EUR" in html


def test_system_account_balance_is_derived_from_entries(brand_a):
    clearing = Account.objects.get(
        tenant=brand_a.tenant, kind="psp_clearing", provider="stripe"
    )

    response = brand_a.client.get(url(Account, "change", clearing.pk))

    # 100.00 deposited, reversed, then 50.00 deposited, plus the payee's 100.00:
    # clearing is at -150.00
    assert "-150.00 EUR" in response.content.decode()


def reverse_action(client, txn, **extra):
    data = {"action": "reverse_transactions", "_selected_action": [txn.pk]}
    data.update(extra)
    return client.post(url(JournalTransaction, "changelist"), data, follow=True)


def test_reverse_action_requires_a_reason(brand_a):
    txn = JournalTransaction.objects.get(tenant=brand_a.tenant, kind="adjustment")

    response = reverse_action(brand_a.client, txn, post="yes", reason=" ")

    assert response.status_code == 200
    assert not JournalTransaction.objects.filter(reverses=txn).exists()


def test_reverse_action_posts_the_mirror_transaction_once(brand_a):
    txn = JournalTransaction.objects.get(tenant=brand_a.tenant, kind="adjustment")

    reverse_action(brand_a.client, txn, post="yes", reason="wrong player")
    second = reverse_action(brand_a.client, txn, post="yes", reason="again")

    reversal = JournalTransaction.objects.get(reverses=txn)
    assert reversal.description == "wrong player"
    assert reversal.actor_user == brand_a.operator
    assert "already reversed" in second.content.decode()
    assert ledger_invariants_check() == []


def test_reversing_a_hold_movement_shows_the_domain_error(brand_a):
    txn = brand_a.hold.place_transaction

    response = reverse_action(brand_a.client, txn, post="yes", reason="nope")

    assert "TRANSACTION_NOT_REVERSIBLE" in response.content.decode()


def test_reverse_action_cannot_reach_another_brands_transaction(brand_a, brand_b):
    txn = JournalTransaction.objects.get(tenant=brand_b.tenant, kind="adjustment")

    reverse_action(brand_a.client, txn, post="yes", reason="across brands")

    assert not JournalTransaction.objects.filter(reverses=txn).exists()

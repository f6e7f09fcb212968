from datetime import timedelta

import pytest
from django.utils import timezone

from common.actors import Actor
from tests.factories import fund
from wallet import services as wallet
from wallet.models import Entry

pytestmark = pytest.mark.django_db


def test_balances_per_currency_in_minor_and_major_units(client_a, player_a):
    fund(player_a, 12_345, "EUR")
    fund(player_a, 500, "USD")
    wallet.hold_place(
        player=player_a,
        currency="EUR",
        amount_minor=2_345,
        idempotency_key="hold-1",
        actor=Actor.for_player(player_a),
    )

    response = client_a.get("/api/v1/wallet/balances")

    assert response.status_code == 200
    assert response.json()["balances"] == [
        {
            "currency": "EUR",
            "available_minor": 10_000,
            "held_minor": 2_345,
            "total_minor": 12_345,
            "available": "100.00",
            "held": "23.45",
            "total": "123.45",
        },
        {
            "currency": "USD",
            "available_minor": 500,
            "held_minor": 0,
            "total_minor": 500,
            "available": "5.00",
            "held": "0.00",
            "total": "5.00",
        },
    ]


def test_new_player_has_an_empty_wallet(client_a):
    response = client_a.get("/api/v1/wallet/balances")

    assert response.json() == {"balances": []}


def test_history_pages_with_a_cursor_until_the_end(client_a, player_a):
    for amount in (100, 200, 300, 400, 500):
        fund(player_a, amount)

    seen = []
    response = client_a.get("/api/v1/wallet/transactions", {"page_size": 2})
    pages = 1
    while True:
        body = response.json()
        seen += [row["amount_minor"] for row in body["results"]]
        if not body["next"]:
            break
        response = client_a.api_client.get(body["next"], **client_a.headers())
        pages += 1

    assert seen == [500, 400, 300, 200, 100]
    assert pages == 3


def test_history_next_link_keeps_the_filters(client_a, player_a):
    for _ in range(3):
        fund(player_a, 100, "USD")
    fund(player_a, 100, "EUR")

    first = client_a.get(
        "/api/v1/wallet/transactions", {"currency": "USD", "page_size": 2}
    )
    second = client_a.api_client.get(first.json()["next"], **client_a.headers())

    assert [r["currency"] for r in second.json()["results"]] == ["USD"]


def test_history_filters_by_kind(client_a, player_a):
    fund(player_a, 1_000)
    wallet.adjustment_create(
        actor=Actor.system("tests"),
        player=player_a,
        currency="EUR",
        amount_minor=-250,
        reason="fee",
        idempotency_key="adj-1",
    )

    response = client_a.get("/api/v1/wallet/transactions", {"kind": "adjustment"})

    rows = response.json()["results"]
    assert [(r["kind"], r["amount"], r["balance_after_minor"]) for r in rows] == [
        ("adjustment", "-2.50", 750)
    ]


def test_history_filters_by_currency(client_a, player_a):
    fund(player_a, 1_000, "EUR")
    fund(player_a, 2_000, "USD")

    response = client_a.get("/api/v1/wallet/transactions", {"currency": "USD"})

    assert [r["amount_minor"] for r in response.json()["results"]] == [2_000]


def test_history_filters_by_date(client_a, player_a):
    fund(player_a, 1_000)
    now = timezone.now()

    future = client_a.get(
        "/api/v1/wallet/transactions",
        {"created_after": (now + timedelta(hours=1)).isoformat()},
    )
    past = client_a.get(
        "/api/v1/wallet/transactions",
        {"created_before": (now + timedelta(hours=1)).isoformat()},
    )

    assert future.json()["results"] == []
    assert [r["amount_minor"] for r in past.json()["results"]] == [1_000]


def test_history_shows_hold_moves_in_both_buckets(client_a, player_a):
    fund(player_a, 1_000)
    wallet.hold_place(
        player=player_a,
        currency="EUR",
        amount_minor=400,
        idempotency_key="h",
        actor=Actor.for_player(player_a),
    )

    response = client_a.get("/api/v1/wallet/transactions", {"kind": "withdrawal_hold"})

    assert sorted(
        (r["bucket"], r["amount_minor"]) for r in response.json()["results"]
    ) == [
        ("available", -400),
        ("held", 400),
    ]


@pytest.mark.parametrize(
    "params",
    [{"kind": "jackpot"}, {"created_after": "yesterday"}, {"currency": "EURO"}],
    ids=["kind", "date", "currency"],
)
def test_invalid_history_filter_is_400_validation_error(client_a, params):
    response = client_a.get("/api/v1/wallet/transactions", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_history_shows_only_the_callers_lines(client_a, player_a):
    from tests.factories import PlayerFactory

    neighbour = PlayerFactory(tenant=player_a.tenant)
    fund(neighbour, 9_999)
    fund(player_a, 1_000)

    response = client_a.get("/api/v1/wallet/transactions")

    ids = [r["id"] for r in response.json()["results"]]
    assert set(
        Entry.objects.filter(pk__in=ids).values_list("account__player", flat=True)
    ) == {player_a.pk}

"""Amounts in ASCII digits only; names free of control characters."""

import uuid

import pytest

from common.currency import InvalidAmount, to_minor
from tests.api.conftest import PlayerClient
from tests.factories import fund

pytestmark = pytest.mark.django_db

IBAN = "DE89370400440532013000"


@pytest.mark.parametrize(
    "amount", ["１０.００", "١٠.٠٠", "१०.००", "10.0０", "1e3", " "]
)
def test_to_minor_refuses_amounts_not_written_in_ascii_digits(amount):
    with pytest.raises(InvalidAmount):
        to_minor(amount, "EUR")


@pytest.mark.parametrize("amount", ["10", "10.5", "10.50", ".5", "+3"])
def test_to_minor_takes_plain_ascii_amounts(amount):
    assert to_minor(amount, "EUR") > 0


def test_deposit_amount_in_fullwidth_digits_is_a_validation_error(client_a):
    response = client_a.api_client.post(
        "/api/v1/deposits",
        {"amount": "１０.００", "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="fullwidth-1",
        **client_a.headers(),
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "amount" in response.json()["error"]["details"]["fields"]


def withdraw(client: PlayerClient, amount: str, holder_name: str = "Ann Smith"):
    return client.api_client.post(
        "/api/v1/withdrawals",
        {
            "amount": amount,
            "currency": "EUR",
            "destination": {"type": "iban", "iban": IBAN, "holder_name": holder_name},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        **client.headers(),
    )


def test_withdrawal_amount_in_arabic_indic_digits_is_refused(client_a, player_a):
    fund(player_a, 10_000)

    response = withdraw(client_a, "١٠.٠٠")

    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "INVALID_AMOUNT",
    )


@pytest.mark.parametrize("holder_name", ["\x01Ann", "Ann\u202eSmith", "Ann\x7f"])
def test_payout_holder_name_with_control_characters_is_refused(
    client_a, player_a, holder_name
):
    fund(player_a, 10_000)

    response = withdraw(client_a, "10.00", holder_name)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PAYOUT_DESTINATION"


def test_payout_holder_name_nul_is_refused_at_the_edge(client_a, player_a):
    fund(player_a, 10_000)

    response = withdraw(client_a, "10.00", "\x00")

    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "INVALID_TEXT",
    )


def test_display_name_with_a_control_character_is_a_validation_error(
    api_client, tenant_a
):
    response = PlayerClient(api_client, tenant_a).post(
        "/api/v1/auth/register",
        {
            "email": "c@example.com",
            "password": "long-enough-pass",
            "display_name": "Eve\x1b[31m",
        },
    )

    assert response.status_code == 400
    assert "display_name" in response.json()["error"]["details"]["fields"]

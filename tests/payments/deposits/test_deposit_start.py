"""Starting a deposit: replays first, one PSP call per key, unknown stays unknown
(issue 8, defects 6, 7 and 15)."""

import threading

import pytest
from django.db import connection

from tenants.models import TenantPolicy
from tests.factories import PlayerFactory, token_for
from tests.payments.factories import PSPConfigFactory
from wallet.models import Deposit


@pytest.fixture
def player(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return PlayerFactory(tenant=config.tenant)


def create(api_client, player, key="key-1"):
    return api_client.post(
        "/api/v1/deposits",
        {"amount": "50.00", "currency": "EUR"},
        format="json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def checkout_calls(fake_stripe) -> int:
    return len([r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions"])


@pytest.mark.django_db
def test_a_replay_returns_the_first_deposit_after_the_kill_switch_was_turned_on(
    api_client, player, fake_stripe
):
    first = create(api_client, player)
    TenantPolicy.objects.filter(tenant=player.tenant).update(deposits_enabled=False)
    again = create(api_client, player)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert checkout_calls(fake_stripe) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "garbage",
    [b"<html>proxy error</html>", b"[1, 2]", b'"ok"', b'{"object": "x"}', b"null"],
)
def test_a_garbage_stripe_reply_is_an_unknown_outcome_with_a_registered_code(
    api_client, player, fake_stripe, garbage
):
    """A 200 whose body is not a checkout session was a 500 INTERNAL_ERROR (or a
    502 that failed the deposit). It is an unknown outcome (PROVIDER_UNAVAILABLE
    inside): since issue 9 the player gets 202 DEPOSIT_CHECKOUT_PENDING and a worker
    asks the PSP again under the same idempotency key."""
    fake_stripe.garbage_reply = garbage
    response = create(api_client, player)
    assert response.status_code == 202
    assert response.json()["error"]["code"] == "DEPOSIT_CHECKOUT_PENDING"
    # Unknown is unknown: the deposit waits to be asked again, it is not failed.
    assert Deposit.objects.get().state == Deposit.State.CREATED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_psp_call(fake_stripe):
    from rest_framework.test import APIClient

    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    player = PlayerFactory(tenant=config.tenant)
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    answers: list[tuple[int, int]] = []

    def request():
        try:
            barrier.wait()
            response = create(APIClient(), player, key="same-key")
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == threads_count
    assert {status for status, _ in answers} == {201}
    assert len({deposit_id for _, deposit_id in answers}) == 1
    assert checkout_calls(fake_stripe) == 1

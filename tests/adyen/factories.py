"""Adyen notification payloads, signed exactly as Adyen signs them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from common.actors import Actor
from payments.config.services import psp_config_save
from payments.models import PSPConfig
from payments.providers.adyen.config import AdyenConfig
from payments.providers.adyen.webhooks import item_signature, payload_signature
from tests.factories import TenantFactory

# Adyen's published test vector (peers/README.md).
VECTOR_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
VECTOR_SIGNATURE = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
OTHER_KEY = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
BP_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"


def adyen_config(**overrides: Any) -> AdyenConfig:
    values: dict[str, Any] = {
        "merchant_account": "TestMerchant",
        "api_key": "AQE-test-api-key",
        "hmac_key": VECTOR_KEY,
        "webhook_username": "adyen-hook",
        "webhook_password": "s3cret-hook-pass",
        "balance_account_id": "BAB8B2C3D4E5F6G7H8D9J6GD4",
        "balance_platform_hmac_key": BP_KEY,
        "tenant_slug": "brand-a",
    }
    values.update(overrides)
    return AdyenConfig(**values)


def vector_item(**overrides: Any) -> dict[str, Any]:
    """The published test vector's notification item, unsigned."""
    item: dict[str, Any] = {
        "additionalData": {},
        "amount": {"currency": "EUR", "value": 1130},
        "eventCode": "AUTHORISATION",
        "eventDate": "2024-01-01T10:00:00+01:00",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "TestPayment-1407325143704",
        "operations": ["CANCEL", "CAPTURE", "REFUND"],
        "paymentMethod": "visa",
        "pspReference": "7914073381342284",
        "reason": "1234:7777:12/2012",
        "success": "true",
    }
    item.update(overrides)
    return item


def signed(item: dict[str, Any], *, key: str = VECTOR_KEY) -> dict[str, Any]:
    item = dict(item)
    item["additionalData"] = {
        **item.get("additionalData", {}),
        "hmacSignature": item_signature(item, hmac_key=key),
    }
    return item


def batch_body(*items: dict[str, Any], live: str = "false") -> bytes:
    return json.dumps(
        {
            "live": live,
            "notificationItems": [{"NotificationRequestItem": i} for i in items],
        }
    ).encode()


def basic_auth(user: str = "adyen-hook", password: str = "s3cret-hook-pass") -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def transfer_document(**data_overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "1W1UG35U8A9J5ZLG",
        "reference": "withdrawal:7:attempt:1",
        "status": "booked",
        "direction": "outgoing",
        "category": "bank",
        "sequenceNumber": 3,
        "amount": {"currency": "EUR", "value": 2500},
        "balanceAccount": {"id": "BAB8B2C3D4E5F6G7H8D9J6GD4"},
    }
    data.update(data_overrides)
    return {
        "data": data,
        "environment": "test",
        "timestamp": "2024-01-01T10:00:00+01:00",
        "type": "balancePlatform.transfer.updated",
    }


def transfer_body_and_headers(
    document: dict[str, Any], *, key: str = BP_KEY
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, {
        **basic_auth(),
        "HmacSignature": payload_signature(body, hmac_key=key),
    }


# --- PSPConfig-backed helpers (database) ------------------------------------------

SYSTEM = Actor.system("tests")
HMAC_KEY = VECTOR_KEY


def adyen_psp_config(*, tenant=None, merchant_account="BrandAMerchant", **fields):
    tenant = tenant or TenantFactory()
    config = PSPConfig(
        tenant=tenant,
        provider="adyen",
        mode="test",
        merchant_account=merchant_account,
        webhook_username="adyen-hook",
        balance_account_id=fields.pop(
            "balance_account_id", "BA00000000000000000000001"
        ),
        **fields,
    )
    return psp_config_save(
        actor=SYSTEM,
        config=config,
        secret_key="AQE_test_api_key_0001",
        hmac_key=HMAC_KEY,
        webhook_password="hook-password-1",
        balance_platform_hmac_key=HMAC_KEY[::-1],
        created=True,
    )


def adyen_rows(tenant, player):
    """A row of each Adyen-related admin model for ``tenant`` (payment route, Adyen
    config, a deposit paid, charged back and with a pending refund), all through the
    real services: for fixtures that need a row of every admin model."""
    from django.db import transaction

    from payments.deposits.refunds import refund_request
    from payments.models import PaymentRoute
    from payments.simulator.adyen import basic_auth_header, notification_item
    from payments.webhooks.services import webhook_receive
    from tests.payments.factories import pending_deposit

    config = adyen_psp_config(tenant=tenant, merchant_account=f"{tenant.slug}-merchant")
    PaymentRoute.objects.create(tenant=tenant, currency="EUR", deposit_provider="adyen")
    deposit = pending_deposit(player, 3000, provider="adyen")
    headers = {"Authorization": basic_auth_header(config)}

    def notify(event):
        item = notification_item(config=config, deposit=deposit, event=event)
        body = json.dumps(
            {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
        ).encode()
        webhook_receive(config=config, body=body, headers=headers)

    notify("AUTHORISATION")
    # The refund stays pending: its dispatch runs on commit, which a ``db`` test
    # never reaches.
    with transaction.atomic():
        refund_request(
            deposit_id=deposit.pk,
            tenant_id=tenant.pk,
            amount_minor=100,
            reason="fixture",
            actor=SYSTEM,
            request_key=f"test-refund-{uuid.uuid4()}",
        )
    notify("CHARGEBACK")
    deposit.refresh_from_db()
    return config, deposit

"""Adyen notification payloads, signed exactly as Adyen signs them."""

from __future__ import annotations

import base64
import json
from typing import Any

from payments.providers.adyen.config import AdyenConfig
from payments.providers.adyen.webhooks import item_signature, payload_signature

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

import json

import pytest
from Adyen.util import is_valid_hmac_notification

from common.errors import MalformedRequest
from payments import events
from payments.events import RejectedItem, WebhookEvent
from payments.exceptions import (
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
)
from payments.providers.adyen.webhooks import (
    item_signature,
    item_signing_string,
    verify_and_parse,
)
from tests.adyen.factories import (
    OTHER_KEY,
    VECTOR_KEY,
    VECTOR_SIGNATURE,
    adyen_config,
    basic_auth,
    batch_body,
    signed,
    transfer_body_and_headers,
    transfer_document,
    vector_item,
)


def test_published_test_vector_signing_string_and_signature():
    item = vector_item()
    assert item_signing_string(item) == (
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:"
        "AUTHORISATION:true"
    )
    assert item_signature(item, hmac_key=VECTOR_KEY) == VECTOR_SIGNATURE


def test_published_test_vector_is_accepted_and_parsed():
    item = vector_item(additionalData={"hmacSignature": VECTOR_SIGNATURE})
    [event] = verify_and_parse(
        body=batch_body(item), headers=basic_auth(), config=adyen_config()
    )
    assert event.event_id == "7914073381342284:AUTHORISATION:true"
    assert event.event_type == "AUTHORISATION"
    assert event.occurred_at == 1704099600
    assert event.event == events.DepositPaid(
        deposit=events.DepositRef(
            deposit_id=None, payment_reference="7914073381342284"
        ),
        payment_reference="7914073381342284",
        amount_minor=1130,
        currency="EUR",
    )


def test_our_signature_agrees_with_the_adyen_library_on_one_item():
    item = signed(vector_item(pspReference="8515131751004933"))
    assert is_valid_hmac_notification(item, VECTOR_KEY) is True


def test_tampered_amount_is_refused():
    item = signed(vector_item())
    item["amount"] = {"currency": "EUR", "value": 113000}
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=batch_body(item), headers=basic_auth(), config=adyen_config()
        )


def test_signature_made_with_another_key_is_refused():
    item = signed(vector_item(), key=OTHER_KEY)
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=batch_body(item), headers=basic_auth(), config=adyen_config()
        )


def test_item_without_signature_is_refused():
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=batch_body(vector_item()), headers=basic_auth(), config=adyen_config()
        )


def test_item_without_additional_data_is_refused():
    item = vector_item()
    del item["additionalData"]
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=batch_body(item), headers=basic_auth(), config=adyen_config()
        )


def test_batch_with_one_bad_item_among_good_ones_keeps_it_as_rejected_item():
    good_first = signed(vector_item(pspReference="1111111111111111"))
    bad = signed(vector_item(pspReference="2222222222222222"))
    bad["success"] = "false"  # flipped after signing
    good_last = signed(vector_item(pspReference="3333333333333333"))
    first, rejected, last = verify_and_parse(
        body=batch_body(good_first, bad, good_last),
        headers=basic_auth(),
        config=adyen_config(),
    )
    assert isinstance(first, WebhookEvent)
    assert isinstance(last, WebhookEvent)
    assert isinstance(rejected, RejectedItem)
    assert rejected.code == "WEBHOOK_HMAC_INVALID"
    assert "2222222222222222" in rejected.stored_body


def test_batch_with_no_verifiable_item_is_refused_whole():
    bad = signed(vector_item(pspReference="2222222222222222"))
    bad["success"] = "false"  # flipped after signing
    with pytest.raises(WebhookHmacInvalid) as caught:
        verify_and_parse(
            body=batch_body(bad), headers=basic_auth(), config=adyen_config()
        )
    assert caught.value.details == {"bad_items": 1, "items": 1}


def test_batch_of_good_items_gives_one_event_per_item():
    items = [
        signed(vector_item(pspReference="1111111111111111")),
        signed(
            vector_item(
                pspReference="2222222222222222",
                originalReference="1111111111111111",
                eventCode="REFUND",
            )
        ),
    ]
    parsed = verify_and_parse(
        body=batch_body(*items), headers=basic_auth(), config=adyen_config()
    )
    assert [(e.event_id, e.event.deposit.payment_reference) for e in parsed] == [
        ("1111111111111111:AUTHORISATION:true", "1111111111111111"),
        ("2222222222222222:REFUND:true", "1111111111111111"),
    ]
    assert isinstance(parsed[1].event, events.RefundSucceeded)


def test_failed_event_has_its_own_dedupe_id():
    item = signed(vector_item(success="false"))
    [event] = verify_and_parse(
        body=batch_body(item), headers=basic_auth(), config=adyen_config()
    )
    assert event.event_id == "7914073381342284:AUTHORISATION:false"
    assert isinstance(event.event, events.DepositFailed)


def test_no_hmac_key_configured_fails_closed():
    item = signed(vector_item())
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=batch_body(item),
            headers=basic_auth(),
            config=adyen_config(hmac_key=""),
        )


def test_boolean_success_is_refused_as_malformed():
    item = signed(vector_item())
    item["success"] = True
    with pytest.raises(MalformedRequest):
        verify_and_parse(
            body=batch_body(item), headers=basic_auth(), config=adyen_config()
        )


def test_wrong_basic_auth_password_is_refused_before_anything_else():
    item = signed(vector_item())
    with pytest.raises(WebhookAuthenticationFailed) as caught:
        verify_and_parse(
            body=batch_body(item),
            headers=basic_auth(password="guess"),
            config=adyen_config(),
        )
    assert caught.value.http_status == 401


def test_missing_basic_auth_is_refused():
    with pytest.raises(WebhookAuthenticationFailed):
        verify_and_parse(
            body=batch_body(signed(vector_item())), headers={}, config=adyen_config()
        )


def test_basic_auth_not_configured_fails_closed():
    with pytest.raises(WebhookAuthenticationFailed):
        verify_and_parse(
            body=batch_body(signed(vector_item())),
            headers=basic_auth(user="", password=""),
            config=adyen_config(webhook_username="", webhook_password=""),
        )


def test_signed_item_for_another_merchant_account_is_refused():
    item = signed(vector_item(merchantAccountCode="OtherBrandMerchant"))
    with pytest.raises(WebhookMerchantAccountMismatch) as caught:
        verify_and_parse(
            body=batch_body(item), headers=basic_auth(), config=adyen_config()
        )
    assert caught.value.details == {"merchant_accounts": ["OtherBrandMerchant"]}


def test_extra_merchant_account_of_the_same_brand_is_accepted():
    item = signed(vector_item(merchantAccountCode="TestMerchantEU"))
    config = adyen_config(extra_merchant_accounts=("TestMerchantEU",))
    [event] = verify_and_parse(
        body=batch_body(item), headers=basic_auth(), config=config
    )
    assert isinstance(event.event, events.DepositPaid)


def test_amount_is_converted_from_adyen_minor_units():
    item = signed(vector_item(amount={"currency": "IDR", "value": 15000}))
    [event] = verify_and_parse(
        body=batch_body(item), headers=basic_auth(), config=adyen_config()
    )
    assert (event.event.amount_minor, event.event.currency) == (1_500_000, "IDR")


def test_not_json_is_malformed():
    with pytest.raises(MalformedRequest):
        verify_and_parse(body=b"{nope", headers=basic_auth(), config=adyen_config())


def test_transfer_update_with_valid_signature_is_parsed():
    body, headers = transfer_body_and_headers(transfer_document())
    [event] = verify_and_parse(body=body, headers=headers, config=adyen_config())
    assert event.event_type == "balancePlatform.transfer.updated"
    assert event.event_id == "transfer:1W1UG35U8A9J5ZLG:booked:3"
    assert event.event == events.PayoutBooked(
        payout=events.PayoutRef(transfer_reference="1W1UG35U8A9J5ZLG", attempt_id=1)
    )


def test_transfer_update_with_tampered_body_is_refused():
    body, headers = transfer_body_and_headers(transfer_document())
    tampered = json.dumps(
        {**json.loads(body), "data": {**json.loads(body)["data"], "status": "failed"}}
    ).encode()
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(body=tampered, headers=headers, config=adyen_config())


def test_transfer_update_of_another_balance_account_is_refused():
    body, headers = transfer_body_and_headers(
        transfer_document(balanceAccount={"id": "BA_OTHER_BRAND"})
    )
    with pytest.raises(WebhookMerchantAccountMismatch):
        verify_and_parse(body=body, headers=headers, config=adyen_config())


def test_transfer_update_without_balance_platform_key_fails_closed():
    body, headers = transfer_body_and_headers(transfer_document())
    with pytest.raises(WebhookHmacInvalid):
        verify_and_parse(
            body=body,
            headers=headers,
            config=adyen_config(balance_platform_hmac_key=""),
        )

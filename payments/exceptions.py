from common.errors import ApplicationError


class ProviderError(ApplicationError):
    """A PSP refused or failed a call; ``details`` carries the PSP's code, never secrets."""

    code = "PROVIDER_ERROR"
    http_status = 502
    default_message = "The payment provider refused or failed the request."


class ProviderUnavailable(ApplicationError):
    """Timeout or 5xx: the outcome of the call is unknown."""

    code = "PROVIDER_UNAVAILABLE"
    http_status = 503
    default_message = "The payment provider did not answer; the outcome is unknown."


class ProviderNotConfigured(ApplicationError):
    code = "PROVIDER_NOT_CONFIGURED"
    http_status = 503
    default_message = (
        "No enabled payment provider is configured for this brand and currency."
    )


class WebhookSignatureInvalid(ApplicationError):
    code = "WEBHOOK_SIGNATURE_INVALID"
    http_status = 400
    default_message = "The webhook signature is missing, wrong or too old."


class WebhookPayloadInvalid(ApplicationError):
    code = "WEBHOOK_PAYLOAD_INVALID"
    http_status = 400
    default_message = "The webhook body is not a notification we can read."


class WebhookEndpointNotFound(ApplicationError):
    code = "WEBHOOK_ENDPOINT_NOT_FOUND"
    http_status = 404
    default_message = "No webhook endpoint has this id."


class WebhookProcessingFailed(ApplicationError):
    """Our side failed to apply a verified event; it is kept and retried."""

    code = "WEBHOOK_PROCESSING_FAILED"
    http_status = 500
    default_message = "The notification was stored but could not be applied yet."


class WebhookNotReprocessable(ApplicationError):
    code = "WEBHOOK_NOT_REPROCESSABLE"
    http_status = 409
    default_message = (
        "Only verified deliveries that failed or were never applied can be reprocessed."
    )


class ProviderAmountNotExpressible(ApplicationError):
    """The amount has more precision than the PSP's minor unit for this currency allows
    (e.g. IDR with cents to Adyen, which uses 0 decimals for IDR)."""

    code = "PROVIDER_AMOUNT_NOT_EXPRESSIBLE"
    http_status = 422
    default_message = (
        "The payment provider cannot express this amount in this currency."
    )


class WebhookAuthenticationFailed(ApplicationError):
    """The webhook's basic-auth credentials are missing or wrong (Adyen)."""

    code = "WEBHOOK_AUTHENTICATION_FAILED"
    http_status = 401
    default_message = "The webhook credentials are missing or not valid."


class WebhookHmacInvalid(ApplicationError):
    """An Adyen notification item's HMAC signature is missing or wrong, or no HMAC key
    is configured (fail closed). The whole batch is refused."""

    code = "WEBHOOK_HMAC_INVALID"
    http_status = 400
    default_message = "The notification signature is missing or not valid."


class WebhookMerchantAccountMismatch(ApplicationError):
    """A correctly signed notification names a merchant account that is not this
    brand's (company-level webhooks can carry several merchant accounts)."""

    code = "WEBHOOK_MERCHANT_ACCOUNT_MISMATCH"
    http_status = 403
    default_message = "The notification is for a merchant account of another brand."


class RefundNotAllowed(ApplicationError):
    """Only a completed deposit paid through a PSP can be refunded."""

    code = "REFUND_NOT_ALLOWED"
    http_status = 409
    default_message = "This deposit cannot be refunded."


class RefundExceedsRefundable(ApplicationError):
    """More than was captured, less what is already refunded, pending or charged back."""

    code = "REFUND_EXCEEDS_REFUNDABLE"
    http_status = 422
    default_message = "The refund is larger than what is left to refund on the deposit."


# --- issue 9: webhooks acknowledged fast, requests bounded by a PSP budget ----------


class WebhookPayloadTooLarge(ApplicationError):
    """Refused before anything is stored (settings.WEBHOOK_MAX_BODY_BYTES)."""

    code = "WEBHOOK_PAYLOAD_TOO_LARGE"
    http_status = 413
    default_message = "The webhook body is larger than this endpoint accepts."


class DepositCheckoutPending(ApplicationError):
    """Not a failure: the PSP did not open the checkout within the request's budget
    (DEPOSIT_START_BUDGET_SECONDS). The deposit exists; a worker finishes opening
    it. Poll ``GET /api/v1/deposits/<id>`` until ``checkout_url`` is set (or replay
    the request with the same Idempotency-Key)."""

    code = "DEPOSIT_CHECKOUT_PENDING"
    http_status = 202
    default_message = (
        "The payment provider is slow to answer; the deposit is pending. Poll it "
        "for its checkout URL."
    )


# --- issue 8 --------------------------------------------------------------------------
class PayoutOutcomeMustBeAsked(ApplicationError):
    """A PSP payout cannot be marked paid or failed by hand: its outcome is asked of
    the PSP (a guess could pay the player twice)."""

    code = "PAYOUT_OUTCOME_MUST_BE_ASKED"
    http_status = 409
    default_message = (
        "This payout went through a PSP: ask the PSP for its outcome instead of "
        "marking it by hand."
    )


# --- issue 13: closed-loop payouts (docs/compliance.md) ---------------------------------


class WithdrawalPayoutNameMismatch(ApplicationError):
    code = "WITHDRAWAL_PAYOUT_NAME_MISMATCH"
    http_status = 422
    default_message = (
        "The bank account's holder name does not match the player's verified name; "
        "the part that cannot go back to the deposit methods cannot be paid there."
    )


class SettlementFileInvalid(ApplicationError):
    """A settlement report that is not in the PSP's export format (issue 12)."""

    code = "SETTLEMENT_FILE_INVALID"
    http_status = 400
    default_message = "The file is not a settlement report this PSP exports."

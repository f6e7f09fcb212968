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

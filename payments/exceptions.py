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


class DepositRefused(ApplicationError):
    """Base of the reasons a new deposit is refused (each has its own code)."""


class DepositCurrencyNotAllowed(DepositRefused):
    code = "DEPOSIT_CURRENCY_NOT_ALLOWED"
    http_status = 400
    default_message = "This brand does not take deposits in this currency."


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

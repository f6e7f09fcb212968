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

from common.errors import ApplicationError


class TenantNotFound(ApplicationError):
    code = "TENANT_NOT_FOUND"
    http_status = 404
    default_message = "No brand matches this request (X-Tenant header or host)."


class TenantSuspended(ApplicationError):
    code = "TENANT_SUSPENDED"
    http_status = 403
    default_message = "This brand is suspended."


class ModuleTemporarilyDisabled(ApplicationError):
    code = "MODULE_TEMPORARILY_DISABLED"
    http_status = 503
    default_message = "This feature is temporarily disabled for this brand."


# --- issue 8: one code for "the brand takes this currency" -----------------------------
class CurrencyNotAllowed(ApplicationError):
    code = "CURRENCY_NOT_ALLOWED"
    http_status = 400
    default_message = "This brand does not take this currency."


# --- feature flags and API keys (issue 11) ---------------------------------------
class FeatureDisabled(ApplicationError):
    code = "FEATURE_DISABLED"
    http_status = 403
    default_message = "This feature is not enabled for this brand."


class ApiKeyInvalid(ApplicationError):
    code = "API_KEY_INVALID"
    http_status = 401
    default_message = "The API key is missing, unknown or revoked."


class ApiKeyScopeMissing(ApplicationError):
    code = "API_KEY_SCOPE_MISSING"
    http_status = 403
    default_message = "The API key does not have the scope this operation needs."

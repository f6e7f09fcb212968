"""Settings for the casino payments back-office.

Every value that differs between machines comes from the environment through
django-environ; the README's configuration table lists each variable.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Refused by casino.checks when DEBUG is False.
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", ".localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "crm.apps.BackOfficeAdminConfig",  # django.contrib.admin with the product's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "django_ratelimit",
    "audit",
    "tenants",
    "casino",
    "wallet",
    "payments",
    "crm",
    "portal",
    "reconciliation",  # issue 12: settlement imports, finance dashboard, reports
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "casino.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "casino.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL plus a busy timeout lets the dev server's threads wait for the
    # single writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
DATABASES["default"].setdefault("TEST", {})

# --- issue 12: read replica for reports ---------------------------------------------
# DATABASE_REPLICA_URL: a streaming replica of the primary. The finance dashboard, the
# liability report and the settlement matcher's lookups read from it
# (common/db_router.py); money writes and decisions stay on the primary. In tests the
# alias mirrors the primary's test database (same NAME, the replica's host and port).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["common.db_router.ReplicaRouter"]
# Folder the reconcile_psp_inbox sweep reads: <dir>/<tenant-slug>/<provider>/*.csv
RECONCILIATION_INBOX_DIR = env.str("RECONCILIATION_INBOX_DIR", default="")
# --- end issue 12 -------------------------------------------------------------------

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://casino-default")}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "casino.authentication.PlayerTokenAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["casino.authentication.IsPlayer"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Casino payments back-office API",
    "DESCRIPTION": "Player API: accounts, wallet, deposits and withdrawals.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Fernet keys (newest first) for PSP secrets and payout details at rest; see
# common/crypto.py. Empty in development: a key derived from SECRET_KEY is used, and
# casino.checks refuses that when DEBUG is False.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# Player API tokens stop working this many seconds after they were issued.
PLAYER_TOKEN_TTL_SECONDS = env.int("PLAYER_TOKEN_TTL_SECONDS", default=7 * 24 * 3600)

# Rate limits (django-ratelimit, common/ratelimit.py): "<count>/<period>", period s, m,
# h or d; keyed by the authenticated player, else by client IP. The counters live in
# the default cache, which must be shared between processes in production (Redis via
# CACHE_URL); casino.checks_ratelimit warns under `check --deploy` when it is not.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_RATES = {
    "login": env.str("RATELIMIT_LOGIN", default="20/m"),
    "register": env.str("RATELIMIT_REGISTER", default="10/m"),
    "deposit": env.str("RATELIMIT_DEPOSIT", default="10/m"),
    "withdrawal": env.str("RATELIMIT_WITHDRAWAL", default="5/m"),
    "retry": env.str("RATELIMIT_RETRY", default="5/m"),
}
SILENCED_SYSTEM_CHECKS = []
if DEBUG and CACHES["default"]["BACKEND"].endswith(".LocMemCache"):
    # Dev and test run on a process-local cache on purpose; production must not.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Payments (docs/payments/stripe.md). The simulator signs and delivers fake PSP events
# through the real webhook endpoint; payments.checks refuses it when DEBUG is False.
PAYMENTS_SIMULATOR_ENABLED = env.bool("PAYMENTS_SIMULATOR_ENABLED", default=False)
# Where the Stripe client sends API calls; tests point it at a local fake.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)

# Adyen (docs/payments/adyen.md). Empty service URLs mean Adyen's own (test or live
# per the brand's mode and live URL prefix); tests point them at Prism serving Adyen's
# OpenAPI specs (or a developer points them at a local Prism).
ADYEN_CHECKOUT_BASE_URL = env.str("ADYEN_CHECKOUT_BASE_URL", default="")
ADYEN_TRANSFERS_BASE_URL = env.str("ADYEN_TRANSFERS_BASE_URL", default="")
ADYEN_TIMEOUT_SECONDS = env.float("ADYEN_TIMEOUT_SECONDS", default=20.0)

# The ledger's posting call runs as a server-side prepared statement (docs/ledger.md).
# Set False behind PgBouncer in transaction mode older than 1.21 (or without
# max_prepared_statements), which cannot route prepared statements.
WALLET_PREPARED_POSTING = env.bool("WALLET_PREPARED_POSTING", default=True)

# ---- Issue 10: authentication hardening and the request edge (docs/security.md) ----
# The request edge (common/edge.py) runs before everything else: NUL bytes and
# control characters, oversized bodies and too-deep JSON get a JSON 4xx there.
MIDDLEWARE.insert(0, "common.edge.RequestEdgeMiddleware")
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=1024 * 1024)
REQUEST_MAX_JSON_DEPTH = env.int("REQUEST_MAX_JSON_DEPTH", default=32)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
# Reverse proxies in front of the app that append to X-Forwarded-For; the client IP
# (rate limits, audit) is the N-th address from the right. 0: the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The schema and docs pages are public and need no player: authenticating there only
# turned a malformed Authorization header into an error while rendering HTML.
SPECTACULAR_SETTINGS["SERVE_AUTHENTICATION"] = []
# --- issue 14: the shared error responses in the OpenAPI schema (common/openapi.py) ---
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "common.openapi.add_error_responses",
]
# Rate-limit groups that let requests through when the counters' cache (Redis) is
# down; every other group answers 503 RATE_LIMIT_UNAVAILABLE (common/ratelimit.py).
RATELIMIT_FAIL_OPEN_GROUPS = env.list(
    "RATELIMIT_FAIL_OPEN_GROUPS", default=["deposit", "withdrawal", "retry"]
)
# --- end issue 14 ---
# Live API tokens a player may hold; a login beyond it revokes the oldest.
PLAYER_MAX_LIVE_TOKENS = env.int("PLAYER_MAX_LIVE_TOKENS", default=10)
# Failed logins per account (tenant + email, whatever the client IP) before 429,
# on top of the per-IP RATELIMIT_LOGIN.
RATELIMIT_RATES["login_account"] = env.str("RATELIMIT_LOGIN_ACCOUNT", default="10/15m")
RATELIMIT_RATES["password_reset"] = env.str("RATELIMIT_PASSWORD_RESET", default="5/h")
# Player password reset links (and operator ones) stop working after this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Outgoing mail: the console in development, SMTP (e.g. smtp+tls://user:pw@host:587)
# in production; see django-environ's email_url.
_email = env.email_url("EMAIL_URL", default="consolemail://")
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            "host": _email["EMAIL_HOST"],
            "port": _email["EMAIL_PORT"],
            "username": _email["EMAIL_HOST_USER"],
            "password": _email["EMAIL_HOST_PASSWORD"],
            "use_tls": _email.get("EMAIL_USE_TLS", False),
            "use_ssl": _email.get("EMAIL_USE_SSL", False),
            "timeout": 10,
        }
        if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
# Operators: a second factor (django-otp: TOTP app plus backup codes) and a login
# lockout (django-axes, by username and by IP, each on its own). With 2FA required,
# a staff user without a device can only reach /admin/2fa/ to enrol.
OPERATOR_2FA_REQUIRED = env.bool("OPERATOR_2FA_REQUIRED", default=not DEBUG)
INSTALLED_APPS += [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    "casino.auth_backends.OperatorLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Casino back-office")
AXES_FAILURE_LIMIT = env.int("OPERATOR_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(
    minutes=env.int("OPERATOR_LOCKOUT_COOLOFF_MINUTES", default=30)
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.clientip.client_ip_or_none"
AXES_LOCKOUT_TEMPLATE = "admin/operator_locked_out.html"
AXES_VERBOSE = False
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["common.parsers.BoundedJSONParser"]

# --- CRM, feature flags, API keys (issue 11; docs/crm.md) -----------------------------
# Per-brand feature flags are cached this long per process (tenants/features.py); an
# edit drops the entry at once in the shared cache (CACHE_URL), so a longer value only
# delays peers that run on a process-local cache.
TENANT_FEATURES_CACHE_SECONDS = env.int("TENANT_FEATURES_CACHE_SECONDS", default=60)
# Campaign e-mail goes through the mailer of issue 10 (EMAIL_URL, MAILERS above).
# Players a campaign send claims, renders and mails per database transaction.
CRM_CAMPAIGN_BATCH_SIZE = env.int("CRM_CAMPAIGN_BATCH_SIZE", default=500)
# The product name the admin shows beside the operator's brand.
ADMIN_PRODUCT_NAME = env.str("ADMIN_PRODUCT_NAME", default="Casino Back-Office")

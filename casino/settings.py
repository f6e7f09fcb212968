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

# Refused when DEBUG is False (casino.production, at load time).
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

# Off unless asked for: `make run` and the test settings turn it on.
DEBUG = env.bool("DEBUG", default=False)
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
# Persistent connections (one per worker thread, re-checked before reuse): a new
# PostgreSQL connection per request halved throughput. 0 closes after each request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The same backend with a health check that reads the socket instead of sending
# SELECT 1 before each request's first query (common/db_backends/postgresql).
_POSTGRES = "django.db.backends.postgresql"
if DATABASES["default"]["ENGINE"] == _POSTGRES:
    DATABASES["default"]["ENGINE"] = "common.db_backends.postgresql"
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
WALLET_PREPARED_POSTING = env.bool(
    "WALLET_PREPARED_POSTING", default=not env.bool("DATABASE_PGBOUNCER", default=False)
)

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
    "common.openapi.add_player_links",
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

# --- issue 11: audit trail (docs/audit.md) ---
# Days an audit event is kept before `manage.py audit_prune` may delete it (leaving a
# checkpoint so the hash chain still verifies). Unset or 0: retention off, kept forever.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=0) or None
# Events are sealed into the hash chain right after their transaction commits (and by
# `manage.py audit_seal`); `audit_verify` fails when an event has waited longer.
AUDIT_SEAL_MAX_LAG_SECONDS = env.int("AUDIT_SEAL_MAX_LAG_SECONDS", default=300)
# After-commit seals of one brand's chain from one process at most this often (a busy
# brand is sealed in batches, not once per posting; what a skipped seal leaves is
# sealed by the next one or by `audit_seal`). 0: after every commit.
AUDIT_SEAL_INTERVAL_SECONDS = env.float("AUDIT_SEAL_INTERVAL_SECONDS", default=1.0)

# --- issue 9: production server, workers, health and metrics (docs/deploy.md) --------

# Behind PgBouncer in transaction mode a connection is another backend on every
# transaction: no prepared statements, no server-side (named) cursors.
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
if DATABASE_PGBOUNCER:
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# Static files served by the app itself (WhiteNoise), compressed and cache-busted
# after `manage.py collectstatic`; DEBUG keeps Django's own finders.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
# Development serves from the apps' folders as files change (no collectstatic).
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# HTTPS and cookies: safe by default with DEBUG off, each overridable by the
# environment variable of the same name (e.g. SECURE_SSL_REDIRECT=false behind a
# proxy that already redirects).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The load balancer's plain-HTTP probes reach health and metrics without a redirect.
SECURE_REDIRECT_EXEMPT = env.list(
    "SECURE_REDIRECT_EXEMPT", default=[r"^health/", r"^metrics$"]
)
# Trusted proxy: "HTTP_X_FORWARDED_PROTO,https" when a proxy terminates TLS and sets
# that header (and strips it from clients). Unset: no header is trusted.
SECURE_PROXY_SSL_HEADER = (
    tuple(env.list("SECURE_PROXY_SSL_HEADER")) or None
    if env.str("SECURE_PROXY_SSL_HEADER", default="")
    else None
)
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)

# Content-Security-Policy on every response (Django's built-in middleware). Nothing
# inline runs: the admin, the portal and the API docs load their scripts from /static/.
from django.utils.csp import CSP  # noqa: E402

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
TEMPLATES[0]["OPTIONS"]["context_processors"].append(
    "django.template.context_processors.csp"
)
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Request ids: taken from X-Request-ID (the load balancer's) or made up, echoed in
# the response, put on every log line and carried into the tasks a request enqueues.
MIDDLEWARE.insert(0, "common.request_id.RequestIdMiddleware")

# Celery (casino/celery.py): Redis broker in production. In development without a
# broker the tasks run eagerly, in-process, right after the enqueuing transaction
# commits, so `make run` and the tests need nothing else; with DEBUG off an empty
# broker is refused unless CELERY_TASK_ALWAYS_EAGER=true says so on purpose.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=DEBUG and not CELERY_BROKER_URL
)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message queued
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis redelivers an unacknowledged message after this long: longer than any
    # task may run (the PSP timeouts above), shorter than the sweep.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
}
# An enqueue that cannot reach the broker gives up quickly: the row is committed and
# the outbox sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Retries back off exponentially from this many seconds (webhook apply, dispatch);
# after TASK_MAX_ATTEMPTS tries a webhook delivery is dead-lettered (admin re-drives).
TASK_RETRY_BACKOFF_SECONDS = env.int("TASK_RETRY_BACKOFF_SECONDS", default=10)
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", default=6)
# The outbox sweep re-enqueues rows left waiting this long (lost message, dead
# worker, crash between commit and enqueue).
OUTBOX_STALE_SECONDS = env.int("OUTBOX_STALE_SECONDS", default=120)
# Hot-path nudges (a webhook delivery's application) are handed to a per-process
# publisher thread that sends one task for what arrives within the linger, at most
# TASK_PUBLISH_BATCH values (common/queue.py): the request never waits on Redis.
TASK_PUBLISH_IN_BACKGROUND = env.bool("TASK_PUBLISH_IN_BACKGROUND", default=True)
TASK_PUBLISH_LINGER_MS = env.int("TASK_PUBLISH_LINGER_MS", default=20)
TASK_PUBLISH_BATCH = env.int("TASK_PUBLISH_BATCH", default=50)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "payments.outbox_sweep", "schedule": 60.0},
    "expire-stale-deposits": {
        "task": "payments.expire_stale_deposits",
        "schedule": 15 * 60.0,
    },
    "reconcile-payouts": {"task": "payments.reconcile_payouts", "schedule": 10 * 60.0},
    "prune-webhook-inbox": {
        "task": "payments.prune_webhook_inbox",
        "schedule": 24 * 3600.0,
    },
    "reconcile-ledger": {"task": "wallet.reconcile", "schedule": 3600.0},
    "worker-heartbeat": {"task": "casino.worker_heartbeat", "schedule": 30.0},
    # Issues 11 and 12: the audit chain's sweep, system balance checkpoints, the
    # settlement-file inbox and CRM segment membership.
    "audit-seal": {"task": "audit.seal", "schedule": 60.0},
    "checkpoint-system-balances": {
        "task": "wallet.checkpoint_system_balances",
        "schedule": 5 * 60.0,
    },
    "settlement-inbox": {
        "task": "reconciliation.settlement_inbox",
        "schedule": 3600.0,
    },
    "crm-refresh-segments": {"task": "crm.refresh_segments", "schedule": 3600.0},
}

# Webhook endpoints: bodies over this many bytes are refused before anything is
# stored; unauthenticated deliveries are rate-limited per endpoint; a brand's config
# and decrypted secrets are cached in-process this many seconds.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
RATELIMIT_RATES["webhook_rejected"] = env.str(
    "RATELIMIT_WEBHOOK_REJECTED", default="60/m"
)
WEBHOOK_CONFIG_CACHE_SECONDS = env.int("WEBHOOK_CONFIG_CACHE_SECONDS", default=30)

# A player's deposit start waits at most this long for the PSP's checkout; then it
# answers "pending, poll this deposit" and the call finishes in the background.
DEPOSIT_START_BUDGET_SECONDS = env.float("DEPOSIT_START_BUDGET_SECONDS", default=5.0)

# Health (django-health-check, /health/) and metrics (prometheus-client, /metrics).
INSTALLED_APPS += ["health_check"]
# Health fails when the oldest verified, unapplied webhook waited this long, or the
# last worker heartbeat is older than this (seconds).
HEALTH_WEBHOOK_BACKLOG_SECONDS = env.int("HEALTH_WEBHOOK_BACKLOG_SECONDS", default=300)
HEALTH_WORKER_HEARTBEAT_SECONDS = env.int(
    "HEALTH_WORKER_HEARTBEAT_SECONDS", default=120
)

# With a token set, /metrics answers only `Authorization: Bearer <token>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# JSON logs (one object per line, with the request id) unless LOG_FORMAT=plain.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING["filters"] = {"request_id": {"()": "common.request_id.RequestIdLogFilter"}}
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
LOGGING["handlers"]["console"]["filters"] = ["request_id"]

# Refuse to load unsafe production settings: gunicorn and Celery run no system checks.
import sys  # noqa: E402

from casino.production import (  # noqa: E402
    OFFLINE_SILENCED_CHECKS,
    offline_command,
    unsafe_production_settings,
)

if offline_command(sys.argv):
    SILENCED_SYSTEM_CHECKS += OFFLINE_SILENCED_CHECKS
_unsafe = unsafe_production_settings(globals())
if _unsafe and not offline_command(sys.argv):
    from django.core.exceptions import ImproperlyConfigured  # noqa: E402

    raise ImproperlyConfigured(
        "refusing to start with DEBUG off: " + "; ".join(_unsafe)
    )

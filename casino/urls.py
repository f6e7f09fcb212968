"""Root URLs: the composition root, free to name every app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from health_check.views import HealthCheckView

from casino import apis as casino_apis
from casino import apis_exclusions as exclusion_apis
from casino.health import Broker, WorkerHeartbeat, liveness
from casino.metrics import metrics_view
from payments.deposits import apis as payments_apis
from payments.health import WebhookBacklog
from payments.metrics import PaymentsCollector
from payments.webhooks import apis as webhook_apis
from payments.withdrawals import apis as withdrawal_apis
from wallet import apis as wallet_apis
from wallet import apis_responsible_gambling as rg_apis
from wallet.metrics import FindingsCollector

api_v1 = [
    path(
        "auth/register", casino_apis.PlayerRegisterApi.as_view(), name="player-register"
    ),
    path("auth/login", casino_apis.PlayerLoginApi.as_view(), name="player-login"),
    path("auth/logout", casino_apis.PlayerLogoutApi.as_view(), name="player-logout"),
    path(
        "auth/logout-all",
        casino_apis.PlayerLogoutAllApi.as_view(),
        name="player-logout-all",
    ),
    path(
        "auth/password-reset",
        casino_apis.PasswordResetRequestApi.as_view(),
        name="player-password-reset",
    ),
    path(
        "auth/password-reset/confirm",
        casino_apis.PasswordResetConfirmApi.as_view(),
        name="player-password-reset-confirm",
    ),
    path("me", casino_apis.PlayerMeApi.as_view(), name="player-me"),
    path(
        "wallet/balances",
        wallet_apis.WalletBalanceListApi.as_view(),
        name="wallet-balances",
    ),
    path(
        "wallet/transactions",
        wallet_apis.WalletHistoryApi.as_view(),
        name="wallet-history",
    ),
    path(
        "withdrawals",
        withdrawal_apis.WithdrawalListCreateApi.as_view(),
        name="withdrawal-list",
    ),
    path(
        "withdrawals/<int:withdrawal_id>",
        withdrawal_apis.WithdrawalDetailApi.as_view(),
        name="withdrawal-detail",
    ),
    path(
        "withdrawals/<int:withdrawal_id>/cancel",
        withdrawal_apis.WithdrawalCancelApi.as_view(),
        name="withdrawal-cancel",
    ),
    path(
        "withdrawals/<int:withdrawal_id>/retry",
        withdrawal_apis.WithdrawalRetryApi.as_view(),
        name="withdrawal-retry",
    ),
    path(
        "deposits",
        payments_apis.DepositListCreateApi.as_view(),
        name="deposit-list-create",
    ),
    path(
        "deposits/<int:deposit_id>",
        payments_apis.DepositDetailApi.as_view(),
        name="deposit-detail",
    ),
    # --- issue 13: responsible gambling (docs/api.md) ---
    path(
        "responsible-gambling",
        rg_apis.ResponsibleGamblingApi.as_view(),
        name="responsible-gambling",
    ),
    path(
        "responsible-gambling/deposit-limits/<str:currency>/<str:period>",
        rg_apis.DepositLimitSetApi.as_view(),
        name="deposit-limit-set",
    ),
    path(
        "responsible-gambling/deposit-limits/<str:currency>/<str:period>/confirm",
        rg_apis.DepositLimitConfirmApi.as_view(),
        name="deposit-limit-confirm",
    ),
    path(
        "responsible-gambling/time-out",
        exclusion_apis.PlayerTimeOutApi.as_view(),
        name="player-time-out",
    ),
    path(
        "responsible-gambling/self-exclusion",
        exclusion_apis.PlayerSelfExclusionApi.as_view(),
        name="player-self-exclusion",
    ),
    path("play-access", exclusion_apis.PlayAccessApi.as_view(), name="play-access"),
    # --- end issue 13 ---
    path(
        "webhooks/stripe/<str:endpoint_id>/",
        webhook_apis.StripeWebhookApi.as_view(),
        name="webhook-stripe",
    ),
    path(
        "webhooks/adyen/<str:endpoint_id>/",
        webhook_apis.AdyenWebhookApi.as_view(),
        name="webhook-adyen",
    ),
]

# issue 14: unmatched /api/ URLs answer the documented JSON 404 (common/api.py).
handler404 = "common.api.page_not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/v1/crm/", include("crm.urls")),  # operator API, API keys (docs/crm.md)
    path("api/schema/", require_GET(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "api/docs/",
        # GET only: DRF's content negotiation of another method's 405 raised
        # NotAcceptable (a 500) for a client without an Accept the page renders.
        require_GET(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]

# issue 9: health (load balancers, orchestrators) and metrics (Prometheus).
urlpatterns += [
    path("health/live", liveness, name="health-live"),
    path(
        "health/",
        HealthCheckView.as_view(
            checks=[
                "health_check.checks.Database",
                "health_check.checks.Cache",
                Broker,
                WorkerHeartbeat,
                WebhookBacklog,
            ]
        ),
        name="health",
    ),
    path(
        "metrics",
        metrics_view(collectors=[PaymentsCollector(), FindingsCollector()]),
        name="metrics",
    ),
]

# Decided when the URLconf loads: without the setting and DEBUG the simulator does
# not exist (settings refuse the setting with DEBUG off anyway).
if settings.PAYMENTS_SIMULATOR_ENABLED and settings.DEBUG:
    urlpatterns.append(path("payments/simulator/", include("payments.simulator.urls")))

urlpatterns.append(path("", include("portal.urls")))

"""Root URLs: the composition root, free to name every app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from health_check.views import HealthCheckView

from casino import apis as casino_apis
from casino.health import Broker, WorkerHeartbeat, liveness
from casino.metrics import metrics_view
from payments import apis as payments_apis
from payments import apis_withdrawals as withdrawal_apis
from payments.health import WebhookBacklog
from payments.metrics import PaymentsCollector
from wallet import apis as wallet_apis

api_v1 = [
    path(
        "auth/register", casino_apis.PlayerRegisterApi.as_view(), name="player-register"
    ),
    path("auth/login", casino_apis.PlayerLoginApi.as_view(), name="player-login"),
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
    path(
        "webhooks/stripe/<str:endpoint_id>/",
        payments_apis.StripeWebhookApi.as_view(),
        name="webhook-stripe",
    ),
    path(
        "webhooks/adyen/<str:endpoint_id>/",
        payments_apis.AdyenWebhookApi.as_view(),
        name="webhook-adyen",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
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
    path("metrics", metrics_view(collectors=[PaymentsCollector()]), name="metrics"),
]

# Decided when the URLconf loads: without the setting and DEBUG the simulator does
# not exist (settings refuse the setting with DEBUG off anyway).
if settings.PAYMENTS_SIMULATOR_ENABLED and settings.DEBUG:
    urlpatterns.append(path("payments/simulator/", include("payments.simulator.urls")))

urlpatterns.append(path("", include("portal.urls")))

from django.urls import path

from portal import views
from portal import views_responsible_gambling as rg_views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("register/", views.register, name="register"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password-reset/", views.password_reset, name="password-reset"),
    path(
        "password-reset/<str:uid>/<str:token>/",
        views.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path("wallet/", views.wallet, name="wallet"),
    path("deposit/", views.deposit_new, name="deposit-new"),
    path("deposits/<int:deposit_id>/", views.deposit_status, name="deposit-status"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path(
        "withdrawals/<int:withdrawal_id>/cancel/",
        views.withdrawal_cancel_view,
        name="withdrawal-cancel",
    ),
    path(  # issue 13
        "safer-gambling/",
        rg_views.responsible_gambling,
        name="responsible-gambling",
    ),
]

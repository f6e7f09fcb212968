from django.urls import path

from payments.simulator import views

app_name = "payments-simulator"

urlpatterns = [
    path(
        "checkout/<str:session_id>/",
        views.SimulatedCheckoutView.as_view(),
        name="checkout",
    ),
    path("api/events", views.SimulatorEventEmitApi.as_view(), name="emit-event"),
    path(
        "api/transfers",
        views.SimulatorTransferEmitApi.as_view(),
        name="emit-transfer",
    ),
]

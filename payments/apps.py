from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments (PSPs)"

    def ready(self) -> None:
        from payments import exceptions  # noqa: F401  (registers error codes)
        from payments.providers import adyen  # noqa: F401  (registers "adyen")

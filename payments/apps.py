from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments (PSPs)"

    def ready(self) -> None:
        import payments.admin_withdrawals  # noqa: F401  (withdrawal review admin)
        import payments.providers.manual  # noqa: F401  (registers "manual")
        from payments import exceptions  # noqa: F401  (registers error codes)

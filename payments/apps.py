from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments (PSPs)"

    def ready(self) -> None:
        import payments.providers.manual  # noqa: F401  (registers "manual")
        import payments.withdrawals.admin  # noqa: F401  (withdrawal review admin)
        from payments import checks, exceptions  # noqa: F401  (checks, error codes)
        from payments.providers import (
            adyen,  # noqa: F401  (registers "adyen")
            registry,
        )
        from payments.providers.stripe.provider import StripeProvider, simulated_config

        registry.register("stripe", StripeProvider, simulated_config=simulated_config)

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments (PSPs)"

    def ready(self) -> None:
        from payments import checks, exceptions  # noqa: F401  (checks, error codes)
        from payments.providers import registry
        from payments.providers.stripe.provider import StripeProvider

        registry.register("stripe", StripeProvider)

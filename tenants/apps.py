from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        from tenants import exceptions  # noqa: F401  (registers error codes)

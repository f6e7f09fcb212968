from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        from tenants import exceptions  # noqa: F401  (registers error codes)

        # Feature flags and API keys in the admin (registered here, not from
        # tenants.admin, so the modules import each other in one direction only).
        from tenants import admin_features  # noqa: F401

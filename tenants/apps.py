from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        # The audit trail's admin needs tenants.admin's scoping, and audit sits
        # below tenants; registering it from here keeps the dependency direction
        # without an import cycle (tenants.admin no longer imports it back).
        from tenants import (
            admin_audit,  # noqa: F401
            exceptions,  # noqa: F401  (registers error codes)
        )

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        # The audit trail's admin needs tenants.admin's scoping, and audit sits
        # below tenants; registering it from here keeps the dependency direction
        # without an import cycle (tenants.admin no longer imports it back).
        # exceptions registers the error codes; admin_features registers the feature
        # flag and API key admins (here too, for the same reason).
        from tenants import (  # noqa: F401
            admin_audit,
            admin_features,
            exceptions,
        )

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        # exceptions registers the error codes. The audit trail's admin needs
        # tenants.admin's scoping and audit sits below tenants, so admin_audit is
        # registered from here (importing it from tenants.admin was a cycle).
        from tenants import admin_audit, exceptions  # noqa: F401

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Brands (tenants)"

    def ready(self) -> None:
        # exceptions registers the error codes; admin_features registers the feature
        # flag and API key admins (here, not from tenants.admin, so those modules
        # import each other in one direction only).
        from tenants import admin_features, exceptions  # noqa: F401

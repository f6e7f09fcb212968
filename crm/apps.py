from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CrmConfig(AppConfig):
    default = True
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm import exceptions  # noqa: F401  (registers error codes)


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS: the same admin, with the
    product's site (crm/admin_site.py) as the default ``admin.site``."""

    default = False  # "crm" itself is CrmConfig
    default_site = "crm.admin_site.BackOfficeAdminSite"

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the operators' site (2FA, lookup guards) as
    ``admin.site``, so every app's ``admin.register`` lands on it."""

    default_site = "casino.admin_site.OperatorAdminSite"

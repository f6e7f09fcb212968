"""Every existing brand gets one row per feature at its default (as tenant_create
does for new ones), so the admin lists all flags and kill switches of each brand.
The defaults are copied here on purpose: a migration must not follow later edits of
tenants/features.py."""

from django.db import migrations

DEFAULTS = {
    "crm": True,
    "affiliates": False,
    "adyen": True,
    "stripe": True,
    "withdrawals_auto_approve": True,
}


def create_rows(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    TenantFeature = apps.get_model("tenants", "TenantFeature")
    TenantFeature.objects.bulk_create(
        [
            TenantFeature(tenant_id=tenant_id, feature=feature, enabled=enabled)
            for tenant_id in Tenant.objects.values_list("pk", flat=True)
            for feature, enabled in DEFAULTS.items()
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_feature_flags_api_keys")]

    operations = [migrations.RunPython(create_rows, migrations.RunPython.noop)]

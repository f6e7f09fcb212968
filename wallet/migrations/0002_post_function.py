from django.db import migrations

from wallet import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POST_FUNCTION)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.DROP_FUNCTION)


class Migration(migrations.Migration):
    """PostgreSQL only: the one-round-trip posting function (see wallet/sql.py)."""

    dependencies = [("wallet", "0001_initial"), ("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]

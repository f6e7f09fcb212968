from django.db import migrations

from wallet import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.REQUEST_HASH_FUNCTION, params=None)
        schema_editor.execute(sql.MOVEMENT_FUNCTION, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.DROP_MOVEMENT_FUNCTIONS, params=None)


class Migration(migrations.Migration):
    """PostgreSQL only: player credits and debits in one round trip, the two accounts
    found inside the database (see wallet/sql.py, MOVEMENT_FUNCTION)."""

    dependencies = [("wallet", "0005_ledger_fast_path")]

    operations = [migrations.RunPython(install, uninstall)]

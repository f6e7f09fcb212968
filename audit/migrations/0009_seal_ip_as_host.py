from django.db import migrations

from audit import sql

# The 0008 seal function hashed the IP as ``inet::text`` ("127.0.0.1/32"); the
# verifier hashes the stored address ("127.0.0.1"). Events sealed by it with an IP
# do not verify; from here on the seal hashes ``host(ip)``, as the verifier does.
SEAL_FUNCTION_0008 = sql.SEAL_FUNCTION.replace(
    "to_json(host(e.ip))::text", "to_json(e.ip::text)::text"
)


def seal_ip_as_host(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.SEAL_FUNCTION, params=None)


def seal_ip_as_inet_text(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEAL_FUNCTION_0008, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_seal_after_commit")]

    operations = [migrations.RunPython(seal_ip_as_host, seal_ip_as_inet_text)]

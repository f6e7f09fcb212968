"""A tenant's audit trail streams out as JSON lines or CSV, without secrets, and the
export is itself recorded."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from audit.services import audit_record
from tests.audit.helpers import SYSTEM, event_write_unredacted, events_write
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

SECRET = "sk_live_51HxYzAbCdEfGh12345678"


def export(*args) -> str:
    out = io.StringIO()
    call_command(
        "audit_export", *args, "--no-progress", stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def test_jsonl_export_has_every_event_of_the_tenant_in_chain_order():
    tenant, other = TenantFactory(), TenantFactory()
    events_write(tenant_id=tenant.pk, count=3)
    events_write(tenant_id=other.pk, count=2)

    lines = export("--tenant", tenant.slug).splitlines()
    rows = [json.loads(line) for line in lines]

    assert {row["tenant_id"] for row in rows} == {tenant.pk}
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert [row["action"] for row in rows] == [
        "tenant.created",
        "test.event",
        "test.event",
        "test.event",
        "audit.exported",
    ]
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_export_is_recorded_before_the_rows_leave():
    tenant = TenantFactory()
    events_write(tenant_id=tenant.pk, count=1)

    rows = [json.loads(line) for line in export("--tenant", tenant.slug).splitlines()]

    recorded = AuditEvent.objects.get(tenant=tenant, action="audit.exported")
    assert recorded.after["format"] == "jsonl"
    assert rows[-1]["id"] == recorded.pk


def test_export_carries_no_secret_even_if_one_was_stored_unredacted():
    tenant = TenantFactory()
    audit_record(
        actor=SYSTEM,
        action="psp_config.updated",
        tenant_id=tenant.pk,
        after={"api_key": SECRET, "nested": [{"note": SECRET}]},
    )
    # A row stored before a redaction rule existed (written without redaction).
    event_write_unredacted(
        tenant_id=tenant.pk, after={"webhook": "whsec_abcdefgh12345678"}
    )

    jsonl = export("--tenant", tenant.slug)
    as_csv = export("--tenant", tenant.slug, "--format", "csv")

    assert SECRET not in jsonl + as_csv
    assert "whsec_" not in jsonl + as_csv
    assert "[REDACTED]" in jsonl


def test_csv_export_has_a_header_and_neutralises_formulas():
    tenant = TenantFactory()
    audit_record(
        actor=SYSTEM,
        action="test.formula",
        tenant_id=tenant.pk,
        reason='=HYPERLINK("http://evil")',
        after={"a": 1},
    )

    rows = list(
        csv.DictReader(io.StringIO(export("--tenant", tenant.slug, "--format", "csv")))
    )

    formula = rows[1]
    assert formula["action"] == "test.formula"
    assert formula["reason"].startswith("'=")
    assert json.loads(formula["after"]) == {"a": 1}


def test_export_needs_a_known_tenant():
    with pytest.raises(CommandError, match="No tenant"):
        export("--tenant", "nope")

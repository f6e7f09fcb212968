"""The chain's canonical form is computed twice, by PostgreSQL's trigger on insert and
by Python when verifying: both must agree byte for byte, on awkward values too."""

import hashlib
import json

import pytest
from django.db import connection

from audit import chain, context
from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import audit_record
from audit.verification import audit_chain_verify
from tests.audit.helpers import SYSTEM, sealed
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

AWKWARD = [
    None,
    True,
    False,
    0,
    -17,
    12345678901234567,
    1.5,
    -0.25,
    1e-05,
    100000.0,
    1e20,
    0.1 + 0.2,
    "",
    'quote " backslash \\ slash /',
    "tab\tnewline\nreturn\rbell\x07 unit\x1f del\x7f",
    "é ß 日本 😀 \u2028",
    [],
    {},
    [1, [2, [3, {"z": None}]]],
    {"b": 1, "a": 2, "B": 3, "é": 4, "aa": 5, "": 6, "10": 7, "9": 8},
]


@pytest.mark.postgres
@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_postgres_and_python_write_the_same_canonical_json(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_canonical_json(%s::jsonb)", [json.dumps(value)])
        (from_database,) = cursor.fetchone()

    assert from_database == chain.canonical_json(value)


def test_events_with_awkward_content_verify():
    tenant = TenantFactory()
    for value in AWKWARD:
        audit_record(
            actor=SYSTEM,
            action="test.awkward",
            tenant_id=tenant.pk,
            target_id="x\ny",
            before={"value": value},
            after={"list": [value, value]},
            reason="reason with\nnewline and \"quotes\" and 'é'",
        )
    audit_seal_pending()

    report = audit_chain_verify(tenant=tenant)

    assert report.ok, report.broken
    assert report.events_checked == AuditEvent.objects.filter(tenant=tenant).count()
    assert report.unsealed == 0


ADDRESSES = [
    "10.1.0.5",
    "127.0.0.1",
    "2001:db8::1",
    "::1",
    "::",
    "::ffff:10.0.0.1",
    "::a00:1",
    "64:ff9b::a00:1",
]


@pytest.mark.postgres
@pytest.mark.parametrize("address", ADDRESSES)
def test_postgres_and_python_write_the_same_client_ip(address):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::inet::text", [address])
        (from_database,) = cursor.fetchone()

    assert from_database == chain.canonical_ip(address)


def test_events_recorded_for_a_client_ip_verify():
    """Found by the load test (tests/load): PostgreSQL sealed ``10.1.0.5/32``, the
    verifier hashed ``10.1.0.5``, so every event of a request broke the chain."""
    tenant = TenantFactory()
    for address in ADDRESSES:
        token = context.bind(context.RequestContext(request_id="r", ip=address))
        try:
            audit_record(actor=SYSTEM, action="test.ip", tenant_id=tenant.pk)
        finally:
            context.reset(token)
    audit_seal_pending()

    report = audit_chain_verify(tenant=tenant)

    assert report.ok, report.broken
    assert AuditEvent.objects.filter(tenant=tenant, action="test.ip").count() == len(
        ADDRESSES
    )


def test_hash_covers_the_canonical_form_of_exactly_the_documented_fields():
    tenant = TenantFactory()
    event = audit_record(
        actor=SYSTEM, action="test.fields", tenant_id=tenant.pk, after={"b": 1, "a": 2}
    )
    [stored] = sealed(event)

    form = chain.canonical_form(
        chain.ChainFields(*(getattr(stored, n) for n in chain.ChainFields.NAMES)),
        seq=stored.seq,
        prev_hash=stored.prev_hash,
    )

    assert json.loads(form) == [
        "audit-v1",
        tenant.pk,
        stored.seq,
        stored.prev_hash,
        chain.canonical_timestamp(stored.created_at),
        "system",
        None,
        "tests",
        "test.fields",
        "",
        "",
        None,
        {"a": 2, "b": 1},
        "",
        "",
        None,
    ]
    assert '{"a":2,"b":1}' in form
    assert stored.hash == hashlib.sha256(form.encode()).hexdigest()
    previous = AuditEvent.objects.get(tenant=tenant, seq=stored.seq - 1)
    assert stored.prev_hash == previous.hash


def test_each_tenant_and_the_platform_have_their_own_chain():
    first, second = TenantFactory(), TenantFactory()

    a1 = audit_record(actor=SYSTEM, action="t", tenant_id=first.pk)
    b1 = audit_record(actor=SYSTEM, action="t", tenant_id=second.pk)
    a2 = audit_record(actor=SYSTEM, action="t", tenant_id=first.pk)
    p1 = audit_record(actor=SYSTEM, action="t", tenant_id=None)
    a1, b1, a2, p1 = sealed(a1, b1, a2, p1)

    first_of_second = AuditEvent.objects.get(tenant=second, seq=1)
    assert first_of_second.prev_hash == "0" * 64
    assert (a2.seq, a2.prev_hash) == (a1.seq + 1, a1.hash)
    assert (b1.seq, b1.prev_hash) == (2, first_of_second.hash)
    assert p1.seq == AuditEvent.objects.filter(tenant=None).count()


@pytest.mark.postgres
def test_database_seals_raw_sql_inserts_and_ignores_forged_chain_values():
    tenant = TenantFactory()
    [first] = sealed(audit_record(actor=SYSTEM, action="t", tenant_id=tenant.pk))

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,"
            " target_type, target_id, reason, request_id, created_at, seq, prev_hash,"
            " hash) VALUES (%s, 'system', 'raw', 'raw.insert', '', '', '', '', now(),"
            " 99, 'forged', 'forged') RETURNING id, seq, prev_hash, hash",
            [tenant.pk],
        )
        raw_id, *inserted = cursor.fetchone()
    assert inserted == [None, None, None]
    audit_seal_pending()

    raw = AuditEvent.objects.get(pk=raw_id)
    assert (raw.seq, raw.prev_hash) == (first.seq + 1, first.hash)
    assert audit_chain_verify(tenant=tenant).ok

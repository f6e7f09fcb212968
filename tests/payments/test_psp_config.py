"""PSP secrets at rest and the adapter boundary."""

import re
from pathlib import Path

import pytest

from audit.models import AuditEvent
from payments.models import PSPConfig
from tests.payments.factories import PSPConfigFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_secrets_are_stored_encrypted_and_read_back():
    config = PSPConfigFactory(
        secret_key="sk_test_plaintextkey1234", webhook_secret="whsec_plaintext5678"
    )
    row = PSPConfig.objects.values().get(pk=config.pk)
    assert "sk_test_plaintextkey1234" not in str(row)
    assert "whsec_plaintext5678" not in str(row)
    fresh = PSPConfig.objects.get(pk=config.pk)
    assert fresh.secret_key() == "sk_test_plaintextkey1234"
    assert fresh.webhook_secret() == "whsec_plaintext5678"


def test_creating_a_config_audits_no_secret():
    config = PSPConfigFactory(
        secret_key="sk_test_plaintextkey1234", webhook_secret="whsec_plaintext5678"
    )
    event = AuditEvent.objects.get(action="psp_config.created", target_id=config.pk)
    text = f"{event.before} {event.after}"
    assert "plaintext" not in text
    assert event.after["replaced"] == ["api key", "webhook signing key"]


def test_endpoint_ids_are_random_and_not_the_primary_key():
    first, second = PSPConfigFactory(), PSPConfigFactory()
    assert first.endpoint_id != second.endpoint_id
    assert len(first.endpoint_id) >= 20
    assert str(first.pk) != first.endpoint_id


def test_only_the_stripe_client_module_imports_the_sdk():
    importers = [
        path.relative_to(ROOT).as_posix()
        for path in ROOT.glob("*/**/*.py")
        if ".venv" not in path.parts
        and "tests" not in path.parts
        and re.search(r"^\s*(import stripe|from stripe)\b", path.read_text(), re.M)
    ]
    assert importers == ["payments/providers/stripe/client.py"]

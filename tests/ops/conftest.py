from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.adyen.fake_adyen import FakeAdyen
from tests.payments.conftest import fake_stripe, simulator  # noqa: F401 (fixtures)

DAY = 24 * 3600


@pytest.fixture
def fake_adyen_routes(settings):
    server = FakeAdyen()
    # Unknown paths get Adyen's 404 error body, as the real API answers.
    server.status = 404
    server.body = {"status": 404, "errorCode": "000", "message": "Not found"}
    settings.ADYEN_CHECKOUT_BASE_URL = server.url
    settings.ADYEN_TRANSFERS_BASE_URL = server.url
    settings.ADYEN_TIMEOUT_SECONDS = 5
    yield server
    server.close()


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def run_failing(command: str, *args: str) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(command, *args, stdout=out)
    return out.getvalue(), str(caught.value)


def run_alerting(command: str, *args: str) -> str:
    """A run that leaves a critical finding open: it reports, records, and exits 1
    so cron alerts."""
    out, error = run_failing(command, *args)
    assert "Critical reconciliation findings are open" in error
    return out

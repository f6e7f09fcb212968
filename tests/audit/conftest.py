import pytest

from audit import sealing


@pytest.fixture(autouse=True)
def _seal_after_every_commit(settings):
    """Audit tests expect an event sealed right after its commit: no throttling by
    an earlier test's seal of a chain with the same id (the throttle itself is tested
    in tests/audit/chain/test_sealing.py)."""
    settings.AUDIT_SEAL_INTERVAL_SECONDS = 0
    sealing._last_seal.clear()
    yield
    sealing._last_seal.clear()

"""``make loadtest`` cannot rot: the command runs for a few seconds with two clients
(one operator, one player process) over the real server and workers, on the test
database, and must pass its checks and print the percentiles. PostgreSQL and Redis
only (mandatory in CI); the figures themselves come from the long run
(docs/testing.md, "Load test")."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.payments.outbox.conftest import REDIS_URL, database_url, redis_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_test_passes_its_checks_and_prints_percentiles():
    redis_or_skip()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "casino.settings",
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.load",
            "--seconds",
            "10",
            "--clients",
            "2",
            "--workers",
            "1",
            "--players",
            "3",
            "--veterans",
            "1",
            "--redis",
            REDIS_URL,
            "--drain-seconds",
            "60",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert re.search(r"count\s+p50 ms\s+p95 ms\s+p99 ms", result.stdout), output
    assert re.search(r"GET /api/v1/wallet/balances\s+\d+\s+[\d.]+", result.stdout)
    assert "5xx: 0;" in result.stdout
    assert "RESULT: PASS" in result.stdout

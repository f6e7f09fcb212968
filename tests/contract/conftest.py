"""Prism serving Adyen's own OpenAPI specs, for contract tests.

The specs live in ``<repo>/../shared/peers/adyen/`` (CI clones the repository with
``shared/`` beside it). Without ``npx`` or the specs the tests are skipped with a reason
saying so, unless ``REQUIRE_CONTRACT=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS = REPO_ROOT.parent / "shared" / "peers" / "adyen"
PRISM = "@stoplight/prism-cli@5.14.2"
REQUIRE_CONTRACT = os.environ.get("REQUIRE_CONTRACT", "").lower() in (
    "1",
    "true",
    "yes",
)
# The first run downloads Prism from the npm registry (about 10-20 s here); later
# runs start from the npx cache in 2-5 s.
STARTUP_TIMEOUT_SECONDS = 180


def _unavailable(reason: str) -> None:
    if REQUIRE_CONTRACT:
        pytest.fail(f"REQUIRE_CONTRACT=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _prism(spec_name: str, tmp_path_factory) -> Iterator[str]:
    npx = shutil.which("npx")
    if npx is None:
        _unavailable(
            "npx (Node.js) is not installed, so Prism cannot serve Adyen's specs"
        )
    spec = SPECS / spec_name
    if not spec.is_file():
        _unavailable(f"Adyen's OpenAPI spec is missing: {spec}")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("prism") / f"{spec.stem}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [
                npx,
                "--yes",
                PRISM,
                "mock",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                str(spec),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: npx spawns node
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"Prism did not start for {spec.name}:\n{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.2)  # polling a port, not waiting for time to pass
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def prism_checkout(tmp_path_factory) -> Iterator[str]:
    yield from _prism("CheckoutService-v72.json", tmp_path_factory)


@pytest.fixture(scope="session")
def prism_transfers(tmp_path_factory) -> Iterator[str]:
    yield from _prism("TransferService-v4.json", tmp_path_factory)


@pytest.fixture
def wire(monkeypatch):
    """Every HTTP exchange the Adyen library makes, to assert on what Prism said."""
    import requests

    exchanges: list[requests.Response] = []
    real_request = requests.request

    def recording_request(*args, **kwargs):
        response = real_request(*args, **kwargs)
        exchanges.append(response)
        return response

    monkeypatch.setattr(requests, "request", recording_request)
    return exchanges

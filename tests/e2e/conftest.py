"""Playwright end-to-end tests against the live portal with the payments simulator.

Browser: Debian's Chromium at /usr/bin/chromium when it exists, else Playwright's own
(never downloaded here: no ``playwright install``). With neither, the tests are
skipped with a reason, unless REQUIRE_E2E=1 (CI), where they must fail instead.
Failure screenshots land in test-artifacts/playwright/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playwright"
REQUIRE_E2E = os.environ.get("REQUIRE_E2E", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _playwright_chromium() -> Path | None:
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            path = Path(playwright.chromium.executable_path)
    except Exception:
        return None
    return path if path.exists() else None


def browser_missing_reason() -> str | None:
    if SYSTEM_CHROMIUM.exists() or _playwright_chromium() is not None:
        return None
    return (
        f"no browser for Playwright: neither {SYSTEM_CHROMIUM} (apt-get install "
        "chromium) nor Playwright's own Chromium is installed"
    )


def pytest_collection_modifyitems(config, items):
    """Skip (or, with REQUIRE_E2E=1, keep so they fail) when there is no browser,
    and run the browser tests last: Playwright's sync API keeps an event loop in the
    main thread for the rest of the session."""
    e2e = [item for item in items if "e2e" in item.keywords]
    if not e2e:
        return
    items[:] = [item for item in items if "e2e" not in item.keywords] + e2e
    reason = browser_missing_reason()
    if reason and not REQUIRE_E2E:
        for item in e2e:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    reason = browser_missing_reason()
    if reason:
        pytest.fail(f"REQUIRE_E2E=1 but {reason}", pytrace=False)
    args = {**browser_type_launch_args, "headless": True, "args": CHROMIUM_ARGS}
    if SYSTEM_CHROMIUM.exists():
        args["executable_path"] = str(SYSTEM_CHROMIUM)
    return args


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_the_sync_page():
    """Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM
    calls there unless told it is safe (it is: nothing here is async)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(page, request):
    """pytest-playwright's page, with a screenshot saved when the test fails."""
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True
        )


@pytest.fixture
def portal(live_server, settings):
    """The live server with the payments simulator routed, like ``make run``."""
    from tests.payments.conftest import reload_urls

    settings.PAYMENTS_SIMULATOR_ENABLED = True
    settings.DEBUG = True
    reload_urls()
    yield live_server.url
    settings.PAYMENTS_SIMULATOR_ENABLED = False
    reload_urls()

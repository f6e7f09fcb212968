"""Time every admin changelist, the player page and the finance dashboard for an
operator of the big brand and one of the small brand; report the median of each and
the ratio (big / small)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casino.models import Player
from tenants.admin import TenantScopedAdmin
from tenants.models import Tenant


@dataclass(frozen=True, slots=True)
class PageTiming:
    page: str
    small_ms: float
    big_ms: float
    #: Of which in the database (the part that depends on the table sizes).
    small_sql_ms: float
    big_sql_ms: float

    @property
    def ratio(self) -> float:
        return self.big_ms / self.small_ms if self.small_ms else float("inf")


def _operator_client(tenant: Tenant) -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username=f"bench-op-{tenant.slug}", defaults={"is_staff": True}
    )
    tenant.operators.add(user)
    client = Client()
    client.force_login(user)
    return client


def bench_pages(tenant: Tenant) -> list[tuple[str, str]]:
    """``(page name, url)`` for every page measured, for an operator of ``tenant``."""
    pages = []
    registry = admin.site._registry
    for model in sorted(registry, key=lambda m: m._meta.label):
        if not isinstance(registry[model], TenantScopedAdmin):
            continue  # Django's user and group admins: superusers only
        opts = model._meta
        pages.append(
            (
                f"{opts.label} list",
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            )
        )
    pages.append(
        (
            "wallet.Account list, system accounts",
            reverse("admin:wallet_account_changelist") + "?kind=psp_clearing",
        )
    )
    player = Player.objects.filter(tenant=tenant).order_by("id").first()
    if player is not None:
        pages.append(
            ("player page", reverse("admin:casino_player_change", args=[player.pk]))
        )
    pages.append(
        (
            "finance dashboard",
            f"{reverse('admin:reconciliation_dashboard')}?tenant={tenant.pk}",
        )
    )
    return pages


def _timed(client: Client, url: str) -> tuple[float, float]:
    """(page ms, SQL ms) of one request."""
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        total = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return total, sum(float(q["time"]) for q in queries.captured_queries) * 1000


def pages_benchmark(*, small: Tenant, big: Tenant, rounds: int = 7) -> list[PageTiming]:
    """Requests alternate between the brands, round after round, so both see the
    same load on a shared machine; each page's figure is its median."""
    clients = {small.pk: _operator_client(small), big.pk: _operator_client(big)}
    small_pages = dict(bench_pages(small))
    big_pages = dict(bench_pages(big))
    timings = []
    for name in small_pages:
        if name not in big_pages:
            continue
        samples: dict[str, list[tuple[float, float]]] = {"small": [], "big": []}
        _timed(clients[small.pk], small_pages[name])  # warm up
        _timed(clients[big.pk], big_pages[name])
        for _ in range(rounds):
            samples["small"].append(_timed(clients[small.pk], small_pages[name]))
            samples["big"].append(_timed(clients[big.pk], big_pages[name]))
        timings.append(
            PageTiming(
                page=name,
                small_ms=statistics.median(t for t, _ in samples["small"]),
                big_ms=statistics.median(t for t, _ in samples["big"]),
                small_sql_ms=statistics.median(q for _, q in samples["small"]),
                big_sql_ms=statistics.median(q for _, q in samples["big"]),
            )
        )
    return timings

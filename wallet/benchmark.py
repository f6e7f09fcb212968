"""The ledger benchmark behind ``manage.py bench_ledger`` (see docs/ledger.md).

It compares the service layer with PostgreSQL's own yardstick on the same server:
pgbench's built-in TPC-B-like script in a scratch database, then ledger transfers and
deposits through ``wallet.services`` from separate processes (each with its own
database connection, so Python's GIL is not what gets measured). Rounds alternate
pgbench and service measurements and the medians are reported, because a shared
machine drifts between runs.

Everything the service rounds write lives in one dedicated tenant; the pgbench tables
live in a scratch database that is created and dropped by the run.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, connections

from casino.models import Player
from common.actors import Actor
from tenants.models import Tenant
from tenants.services import tenant_create
from wallet import services
from wallet.models import Account, JournalTransaction

ACTOR = Actor.system("bench_ledger")
CURRENCY = "EUR"
OPENING_BALANCE = 1_000_000_00
TRANSFER_MINOR = 1
DEPOSIT_MINOR = 1
WARMUP_OPERATIONS = 5


class PgbenchError(RuntimeError):
    pass


@dataclass(frozen=True)
class WorkerResult:
    operations: int
    failures: int
    elapsed: float
    python_cpu: float
    database_cpu: float | None


@dataclass(frozen=True)
class ServiceFigures:
    rate: float
    failures: int
    python_cpu_us: float  # per operation, the worker process
    database_cpu_us: float | None  # per operation, its backend (local server only)


def _backend_cpu_seconds(pid: int) -> float | None:
    """CPU time of a PostgreSQL backend, when the server runs on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """One list of per-round rates per measurement name."""

    rounds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, rate: float | None) -> None:
        if rate is not None:
            self.rounds.setdefault(name, []).append(rate)

    def median(self, name: str) -> float | None:
        values = self.rounds.get(name)
        return statistics.median(values) if values else None


# --- pgbench -----------------------------------------------------------------------


def pgbench_path() -> str | None:
    return shutil.which("pgbench")


def _libpq_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for key, name in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
    ):
        if db.get(name):
            env[key] = str(db[name])
    return env


def scratch_database_name(scale: int) -> str:
    """One scratch database per pgbench scale factor."""
    return f"{settings.DATABASES['default']['NAME']}"[:50] + f"_pgbench_s{scale}"


def _execute_autocommit(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def pgbench_setup(*, scale: int) -> str:
    """Create the scratch database of ``scale`` and load pgbench's tables into it."""
    name = scratch_database_name(scale)
    quoted = connection.ops.quote_name(name)
    _execute_autocommit(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    _execute_autocommit(f"CREATE DATABASE {quoted}")
    _run_pgbench(["-i", "-q", "-I", "dtGvp", "-s", str(scale), name])
    return name


def pgbench_teardown(*, scale: int) -> None:
    quoted = connection.ops.quote_name(scratch_database_name(scale))
    _execute_autocommit(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


def _run_pgbench(args: list[str]) -> str:
    completed = subprocess.run(  # noqa: S603 (fixed program, arguments built here)
        [pgbench_path(), *args],
        env=_libpq_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise PgbenchError(completed.stderr.strip() or completed.stdout.strip())
    return completed.stdout


def pgbench_tps(*, database: str, clients: int, seconds: float) -> float:
    """TPC-B-like TPS (pgbench's built-in script) at ``clients`` connections."""
    threads = max(1, min(clients, os.cpu_count() or 1))
    output = _run_pgbench(
        [
            "-c",
            str(clients),
            "-j",
            str(threads),
            "-T",
            str(max(1, round(seconds))),
            database,
        ]
    )
    match = re.search(r"tps = ([0-9.]+)", output)
    if match is None:
        raise PgbenchError(f"no tps in pgbench output: {output!r}")
    return float(match.group(1))


# --- the dedicated tenant ----------------------------------------------------------


def bench_tenant_get_or_create(*, slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = tenant_create(
            actor=ACTOR, slug=slug, name="Ledger benchmark", default_currency=CURRENCY
        )
    return tenant


def bench_players(*, tenant: Tenant, count: int, run_id: str) -> list[Player]:
    """``count`` players of the bench tenant, each funded to at least the opening
    balance through the ledger services. The players cannot log in (unusable
    password: the benchmark measures the ledger, not password hashing)."""
    players = []
    for number in range(count):
        player, _ = Player.objects.get_or_create(
            tenant=tenant,
            email=f"bench-player-{number}@bench.invalid",
            defaults={"password": "!bench-unusable", "display_name": "bench"},
        )
        available, _ = services.player_accounts_get_or_create(
            player=player, currency=CURRENCY
        )
        if available.balance_minor < OPENING_BALANCE:
            services.player_credit(
                player=player,
                currency=CURRENCY,
                amount_minor=OPENING_BALANCE - available.balance_minor,
                source_kind=Account.Kind.PSP_CLEARING,
                kind=JournalTransaction.Kind.DEPOSIT,
                idempotency_key=f"bench:{run_id}:fund:{player.pk}",
                actor=ACTOR,
                provider="bench",
            )
        players.append(player)
    return players


# --- service workers (run in child processes) --------------------------------------


def _transfer_loop(player_ids: tuple[int, int], key_prefix: str) -> Callable[[], None]:
    """Ping-pong transfers between the worker's own two players, so the balances
    never drain and no two workers touch the same account."""
    accounts = [
        Account.objects.get(
            player_id=pid, currency=CURRENCY, kind=Account.Kind.PLAYER_AVAILABLE
        )
        for pid in player_ids
    ]
    tenant_id = accounts[0].tenant_id
    line = services.PostingLine
    forward = [line(accounts[0], -TRANSFER_MINOR), line(accounts[1], TRANSFER_MINOR)]
    backward = [line(accounts[1], -TRANSFER_MINOR), line(accounts[0], TRANSFER_MINOR)]
    counter = iter(range(1 << 62))

    def once() -> None:
        n = next(counter)
        services.transaction_post(
            tenant_id=tenant_id,
            kind=JournalTransaction.Kind.TRANSFER,
            lines=backward if n & 1 else forward,
            idempotency_key=f"{key_prefix}:{n}",
            actor=ACTOR,
        )

    return once


def _deposit_loop(player_ids: tuple[int, ...], key_prefix: str) -> Callable[[], None]:
    """PSP-clearing → player deposits to the worker's own player, through the same
    service a completed PSP payment uses."""
    player = Player.objects.get(pk=player_ids[0])
    counter = iter(range(1 << 62))

    def once() -> None:
        services.player_credit(
            player=player,
            currency=CURRENCY,
            amount_minor=DEPOSIT_MINOR,
            source_kind=Account.Kind.PSP_CLEARING,
            kind=JournalTransaction.Kind.DEPOSIT,
            idempotency_key=f"{key_prefix}:{next(counter)}",
            actor=ACTOR,
            provider="bench",
        )

    return once


_LOOPS = {"transfer": _transfer_loop, "deposit": _deposit_loop}


def _worker(kind, player_ids, key_prefix, seconds, barrier, results) -> None:
    # A fresh process: the connection it inherited was closed by the parent before the
    # fork, so Django opens its own. DEBUG off: production does not log every query.
    settings.DEBUG = False
    failures = 0
    operations = 0
    try:
        once = _LOOPS[kind](player_ids, key_prefix)
        for _ in range(WARMUP_OPERATIONS):
            once()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        barrier.wait()
        database_started = _backend_cpu_seconds(backend)
        python_started = time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            try:
                once()
                operations += 1
            except Exception:  # noqa: BLE001 (counted and reported, not hidden)
                failures += 1
        elapsed = time.perf_counter() - started
        database_ended = _backend_cpu_seconds(backend)
        database_cpu = (
            None
            if database_started is None or database_ended is None
            else database_ended - database_started
        )
        results.put(
            WorkerResult(
                operations,
                failures,
                elapsed,
                time.process_time() - python_started,
                database_cpu,
            )
        )
    except Exception as exc:  # noqa: BLE001
        barrier.abort()
        results.put(exc)
    finally:
        connections.close_all()


def service_rate(
    *, kind: str, player_groups: list[tuple[int, ...]], seconds: float, run_id: str
) -> ServiceFigures:
    """Operations per second over all workers (one process per player group), the
    failed operations, and the CPU each operation cost in the worker and its backend."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(player_groups))
    results = context.Queue()
    connections.close_all()  # never share a connection with a child
    stamp = f"{run_id}:{kind}:{len(player_groups)}:{time.monotonic_ns()}"
    processes = [
        context.Process(
            target=_worker,
            args=(kind, group, f"bench:{stamp}:{i}", seconds, barrier, results),
        )
        for i, group in enumerate(player_groups)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise RuntimeError(f"benchmark worker failed: {errors[0]!r}") from errors[0]
    operations = sum(o.operations for o in outcomes) or 1
    database = [o.database_cpu for o in outcomes]
    return ServiceFigures(
        rate=sum(o.operations / o.elapsed for o in outcomes),
        failures=sum(o.failures for o in outcomes),
        python_cpu_us=1e6 * sum(o.python_cpu for o in outcomes) / operations,
        database_cpu_us=(
            None if None in database else 1e6 * sum(database) / operations
        ),
    )

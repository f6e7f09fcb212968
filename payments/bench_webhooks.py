"""Webhook ingestion benchmark over the real server (``manage.py bench_webhooks``).

gunicorn with DEBUG off serves the app; 8 keep-alive connections (4 processes × 2
threads) send Stripe deliveries, each with its own event id, signed with the
``stripe`` library (``stripe.WebhookSignature.generate_signature_header``, through
``payments.providers.stripe.client``), and
the same connections call ``/health/live`` (hello world) on the same server in
alternating rounds. Then end to end: Celery workers (1, then 2 processes) apply
deliveries that each complete one deposit, timed from the first send to the last
application, and every deposit must be credited exactly once with ``reconcile``
clean for the benchmark brand.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import secrets
import threading
import time

from casino.live_stack import Server
from common.actors import Actor
from payments.config.services import psp_config_save
from payments.models import PSPConfig, WebhookInbox
from payments.providers.stripe.client import webhook_signature_header
from tenants.models import Tenant
from tenants.services import tenant_create
from wallet import services as wallet
from wallet.models import Deposit, JournalTransaction

SLUG = "bench-webhooks"
ACTOR = Actor.system("bench_webhooks")
PROCESSES, THREADS = 4, 2  # 8 connections


# --- load generation (child processes: no Django, only HTTP) ------------------------


def _client(args) -> tuple[int, int]:
    host, port, path, seconds, secret, bodies, tag = args
    ok = errors = 0
    lock = threading.Lock()

    def run(thread_no: int) -> None:
        nonlocal ok, errors
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        deadline = time.monotonic() + seconds if seconds else None
        mine = bodies[thread_no::THREADS] if bodies is not None else None
        while True:
            if mine is not None:
                if n >= len(mine):
                    break
                body = mine[n]
            elif deadline is not None and time.monotonic() >= deadline:
                break
            else:
                body = None
            if secret and body is None:  # ingestion: an event for no deposit
                body = json.dumps(
                    {
                        "id": f"evt_bench_{tag}_{thread_no}_{n}_{secrets.token_hex(4)}",
                        "object": "event",
                        "type": "checkout.session.completed",
                        "created": int(time.time()),
                        "data": {
                            "object": {
                                "id": "cs_bench_none",
                                "object": "checkout.session",
                            }
                        },
                    }
                )
            headers = {}
            if body is not None:
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": webhook_signature_header(body, secret),
                }
                conn.request("POST", path, body=body.encode(), headers=headers)
            else:
                conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            with lock:
                if response.status == 200:
                    ok += 1
                else:
                    errors += 1
            n += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok, errors


def load(
    *,
    server: Server,
    path: str,
    seconds: float = 0,
    secret: str = "",
    bodies: list[str] | None = None,
    tag: str = "",
) -> tuple[float, int, int]:
    """Requests per second over 8 connections: for ``seconds``, or until
    ``bodies`` (split between the connections) are all sent."""
    host, port = server.host_port
    chunks = (
        [bodies[i::PROCESSES] for i in range(PROCESSES)]
        if bodies is not None
        else [None] * PROCESSES
    )
    context = multiprocessing.get_context("fork")
    started = time.monotonic()
    with context.Pool(PROCESSES) as pool:
        results = pool.map(
            _client,
            [
                (host, port, path, seconds, secret, chunk, f"{tag}{i}")
                for i, chunk in enumerate(chunks)
            ],
        )
    elapsed = time.monotonic() - started
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return ok / elapsed, ok, errors


# --- the brand, its config and its deposits ----------------------------------------


def bench_config() -> tuple[PSPConfig, str]:
    tenant = Tenant.objects.filter(slug=SLUG).first() or tenant_create(
        actor=ACTOR, slug=SLUG, name="Webhook benchmark", default_currency="EUR"
    )
    secret = f"whsec_bench{secrets.token_hex(16)}"
    config = PSPConfig.objects.filter(tenant=tenant, provider="stripe").first()
    created = config is None
    config = config or PSPConfig(tenant=tenant, provider="stripe", mode="test")
    psp_config_save(
        actor=ACTOR,
        config=config,
        secret_key="sk_test_bench",
        webhook_secret=secret,
        created=created,
    )
    return config, secret


def bench_deposits(
    *, config: PSPConfig, count: int, run: str, players: int = 50
) -> list[Deposit]:
    """``count`` deposits at the PSP, spread over ``players`` new players as real
    traffic is (one player's deposits are applied one at a time, under the
    player's lock, whatever the number of workers)."""
    from casino.models import Player

    owners = [
        Player.objects.create(
            tenant=config.tenant,
            email=f"bench-{run}-{number}@bench.invalid",
            password="!bench-unusable",
            display_name="bench",
        )
        for number in range(min(players, count))
    ]
    deposits = []
    for number in range(count):
        deposit, _ = wallet.deposit_create(
            player=owners[number % len(owners)],
            provider="stripe",
            amount_minor=1000,
            currency="EUR",
            idempotency_key=f"bench-{run}-{number}",
            actor=ACTOR,
        )
        deposits.append(
            wallet.deposit_checkout_attach(
                deposit_id=deposit.pk,
                tenant_id=deposit.tenant_id,
                provider_reference=f"cs_bench_{deposit.pk}",
                checkout_url=f"https://checkout.stripe.com/c/pay/cs_bench_{deposit.pk}",
                actor=ACTOR,
            )
        )
    return deposits


def applied_exactly_once(deposits: list[Deposit]) -> list[str]:
    problems = []
    refs = {f"deposit:{d.pk}": d.pk for d in deposits}
    counts = dict.fromkeys(refs, 0)
    for ref in JournalTransaction.objects.filter(reference__in=list(refs)).values_list(
        "reference", flat=True
    ):
        counts[ref] += 1
    problems += [f"{ref} credited {n} times" for ref, n in counts.items() if n != 1]
    states = Deposit.objects.filter(pk__in=refs.values()).exclude(state="completed")
    problems += [f"deposit {d.pk} is {d.state}" for d in states]
    return problems


def clear_ingestion_rows(*, tenant_id: int) -> None:
    """The ingestion rounds' deliveries name no deposit: drop them (and their queued
    messages) so the end-to-end run times only its own."""
    WebhookInbox.objects.filter(
        tenant_id=tenant_id, event_id__startswith="evt_bench_"
    ).delete()

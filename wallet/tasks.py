"""Celery tasks of the wallet: the ledger reconciliation on beat's schedule."""

from __future__ import annotations

import io

from celery import shared_task
from django.core.management import call_command


@shared_task(name="wallet.reconcile")
def reconcile() -> str:
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    return out.getvalue()[-2000:]


@shared_task(name="wallet.checkpoint_system_balances")
def checkpoint_system_balances() -> str:
    out = io.StringIO()
    call_command("checkpoint_system_balances", stdout=out)
    return out.getvalue()[-2000:]

"""Celery tasks of reconciliation: settlement files dropped in the inbox folder."""

from __future__ import annotations

import io

from celery import shared_task
from django.conf import settings
from django.core.management import call_command


@shared_task(name="reconciliation.settlement_inbox")
def settlement_inbox() -> str:
    """Import what the PSPs' reports left in RECONCILIATION_INBOX_DIR (nothing to do
    when it is not configured)."""
    if not settings.RECONCILIATION_INBOX_DIR:
        return "RECONCILIATION_INBOX_DIR is not set"
    out = io.StringIO()
    call_command("reconcile_psp_inbox", stdout=out)
    return out.getvalue()[-2000:]

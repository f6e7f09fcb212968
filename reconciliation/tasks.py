"""The scheduled sweep of the settlement inbox, for a scheduler to call.

Celery is not installed on this branch; with it, the beat task is these lines
(docs/reconciliation.md has the beat entry)::

    @shared_task
    def reconcile_psp_inbox_task():
        settlement_inbox_sweep_configured()
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from reconciliation.settlement.inbox import InboxOutcome, settlement_inbox_sweep


def settlement_inbox_sweep_configured() -> list[InboxOutcome]:
    """Sweep ``RECONCILIATION_INBOX_DIR`` if it is set (a no-op otherwise)."""
    if not settings.RECONCILIATION_INBOX_DIR:
        return []
    return settlement_inbox_sweep(root=Path(settings.RECONCILIATION_INBOX_DIR))

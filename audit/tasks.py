"""Celery tasks of the audit trail: the sweep that seals events into their chains."""

from __future__ import annotations

from celery import shared_task

from audit.sealing import audit_seal_pending


@shared_task(name="audit.seal")
def seal() -> int:
    """Seal what the after-commit seal left (a burst's tail, a failed seal)."""
    return sum(audit_seal_pending().values())

"""Celery tasks of the CRM: segment membership refreshed on beat's schedule."""

from __future__ import annotations

import io

from celery import shared_task
from django.core.management import call_command


@shared_task(name="crm.refresh_segments")
def refresh_segments() -> str:
    out = io.StringIO()
    call_command("crm_refresh_segments", "--no-progress", stdout=out)
    return out.getvalue()[-2000:]

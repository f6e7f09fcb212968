"""A folder of settlement files, swept on a schedule.

Layout: ``<RECONCILIATION_INBOX_DIR>/<tenant-slug>/<provider>/*.csv``. Each file is
imported (``settlement_import``) and moved to ``done/`` beside it, or to
``failed/`` when it is not the PSP's format; a file imported before is recorded as a
duplicate and moved to ``done/`` too. Run ``reconcile_psp_inbox`` from cron, or the
Celery beat entry in docs/reconciliation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.actors import Actor
from common.errors import ApplicationError
from payments.providers.settlement_formats import PARSERS
from reconciliation.settlement.importing import settlement_import
from tenants.models import Tenant


@dataclass(frozen=True, slots=True)
class InboxOutcome:
    path: str
    outcome: str  # imported | duplicate | failed | unknown_tenant
    detail: str = ""


def settlement_inbox_sweep(*, root: Path) -> list[InboxOutcome]:
    """Import every waiting file under ``root``. Opens its own transactions."""
    outcomes: list[InboxOutcome] = []
    actor = Actor.system("reconcile_psp_inbox")
    for tenant_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        tenant = Tenant.objects.filter(slug=tenant_dir.name).first()
        for provider in sorted(PARSERS):
            folder = tenant_dir / provider
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.csv")):
                if tenant is None:
                    outcomes.append(InboxOutcome(str(path), "unknown_tenant"))
                    continue
                outcomes.append(
                    _one(path=path, tenant=tenant, provider=provider, actor=actor)
                )
    return outcomes


def _move(path: Path, where: str) -> None:
    target = path.parent / where
    target.mkdir(exist_ok=True)
    path.rename(target / path.name)


def _one(*, path: Path, tenant: Tenant, provider: str, actor: Actor) -> InboxOutcome:
    try:
        with path.open("rb") as stream:
            result = settlement_import(
                tenant_id=tenant.pk,
                provider=provider,
                stream=stream,
                file_name=path.name,
                actor=actor,
            )
    except ApplicationError as error:
        _move(path, "failed")
        return InboxOutcome(str(path), "failed", f"{error.code}: {error.message}")
    _move(path, "done")
    record = result.settlement_import
    if result.duplicate:
        return InboxOutcome(str(path), "duplicate")
    return InboxOutcome(
        str(path),
        "imported",
        f"{record.rows} rows, {record.findings_new} new finding(s)",
    )

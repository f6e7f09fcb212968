"""Import the settlement files waiting in the inbox folder.

    python manage.py reconcile_psp_inbox [--dir PATH]

Folder layout ``<dir>/<tenant-slug>/<stripe|adyen>/*.csv`` (default dir: the
``RECONCILIATION_INBOX_DIR`` setting). Imported files move to ``done/``, unreadable
ones to ``failed/``. Exits 1 when a file failed or a critical finding is open.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reconciliation.settlement.inbox import settlement_inbox_sweep
from wallet.selectors import finding_critical_open_exists


class Command(BaseCommand):
    help = "Import every settlement file waiting in the inbox folder."

    def add_arguments(self, parser):
        parser.add_argument("--dir", metavar="PATH")

    def handle(self, *args, dir=None, **options):  # noqa: A002
        root = Path(dir or settings.RECONCILIATION_INBOX_DIR or "")
        if not str(root) or str(root) == "." or not root.is_dir():
            raise CommandError(
                "No inbox folder: pass --dir or set RECONCILIATION_INBOX_DIR."
            )
        outcomes = settlement_inbox_sweep(root=root)
        for outcome in outcomes:
            self.stdout.write(
                f"{outcome.outcome.upper()} {outcome.path} {outcome.detail}"
            )
        self.stdout.write(f"{len(outcomes)} file(s) looked at.")
        if any(o.outcome in ("failed", "unknown_tenant") for o in outcomes):
            raise CommandError("Some settlement files could not be imported.")
        if finding_critical_open_exists():
            raise CommandError(
                "Critical reconciliation findings are open: see Findings in the admin."
            )

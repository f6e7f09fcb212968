"""Import a PSP settlement report and reconcile it against the ledger.

    python manage.py reconcile_psp --provider stripe|adyen --file PATH [--tenant SLUG]

Streams the file (constant memory) with a progress bar, records the import (file
hash, rows, findings, duration), records each discrepancy as a finding and books the
fees the report confirms. Importing the same file again is recorded as a duplicate
and changes nothing. Exits 1 when the file is not the PSP's format, or when a
critical finding is open for the brand (this import's or an earlier one), so cron
can alert. docs/reconciliation.md lists the formats and the finding codes.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.actors import Actor
from common.errors import ApplicationError
from payments.providers.settlement_formats import PARSERS
from reconciliation.settlement.importing import settlement_import
from reconciliation.settlement.tenancy import settlement_tenant_resolve
from wallet.selectors import finding_critical_open_exists


class Command(BaseCommand):
    help = "Import a PSP settlement report (Stripe or Adyen CSV) and reconcile it."

    def add_arguments(self, parser):
        parser.add_argument("--provider", required=True, choices=sorted(PARSERS))
        parser.add_argument("--file", required=True, metavar="PATH")
        parser.add_argument(
            "--tenant",
            metavar="SLUG",
            help="The brand whose PSP account the report is of (default: the only "
            "brand configured for the provider).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar."
        )

    def handle(self, *args, provider, file, tenant=None, no_progress=False, **opts):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        brand = settlement_tenant_resolve(slug=tenant, provider=provider)
        if brand is None:
            raise CommandError(
                f"Say which brand with --tenant (unknown slug, or not exactly one "
                f"brand has a {provider} configuration)."
            )
        with (
            path.open("rb") as stream,
            tqdm(
                total=path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc=f"{provider} {path.name}",
                disable=no_progress,
                file=self.stderr._out,
            ) as bar,
        ):
            try:
                result = settlement_import(
                    tenant_id=brand.pk,
                    provider=provider,
                    stream=stream,
                    file_name=path.name,
                    actor=Actor.system("reconcile_psp"),
                    progress=bar.update,
                )
            except ApplicationError as error:
                raise CommandError(
                    f"{error.code}: {error.message} {error.details}"
                ) from None
        record = result.settlement_import
        if result.duplicate:
            self.stdout.write(
                f"Duplicate: this file was imported before "
                f"(import {record.summary.get('duplicate_of')}); nothing done."
            )
        else:
            seconds = max(record.duration_ms or 0, 1) / 1000
            self.stdout.write(
                f"Imported {record.rows} rows of {path.name} for {brand.slug} in "
                f"{seconds:.1f}s ({record.rows / seconds:.0f} rows/s): "
                f"{record.findings_new} new finding(s), "
                f"{record.findings_seen_again} seen again; fees posted "
                f"{record.summary.get('fees_posted_minor', {})} (minor units)."
            )
        if finding_critical_open_exists(tenant_id=brand.pk):
            raise CommandError(
                "Critical reconciliation findings are open: see Findings in the admin."
            )

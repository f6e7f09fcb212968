"""Export one tenant's audit trail (a regulator's request).

    python manage.py audit_export --tenant SLUG [--format jsonl|csv]
        [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--output FILE]

Streams the events in chain order to FILE (default: standard output) with a
progress bar on standard error, after recording the export itself as an audit
event (``audit/export.py``).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from audit.export import (
    FORMATS,
    audit_export_lines,
    audit_export_rows,
    audit_export_start,
)
from audit.verification import audit_chain_length
from common.actors import Actor
from tenants.models import Tenant


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}")
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Stream a tenant's audit trail as JSON lines or CSV."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", required=True)
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument("--since", type=_date, help="From this UTC day on.")
        parser.add_argument("--until", type=_date, help="Before this UTC day.")
        parser.add_argument("--output", metavar="FILE", help="Default: stdout.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        fmt, since, until = options["format"], options["since"], options["until"]
        with transaction.atomic(durable=True):
            audit_export_start(
                actor=Actor.system("audit_export"),
                tenant_id=tenant.pk,
                fmt=fmt,
                since=since,
                until=until,
            )
        output = (
            open(options["output"], "w", encoding="utf-8", newline="")  # noqa: SIM115
            if options["output"]
            else None
        )
        write = output.write if output else partial(self.stdout.write, ending="")
        rows = audit_export_rows(tenant_id=tenant.pk, since=since, until=until)
        try:
            with tqdm(
                total=audit_chain_length(tenant_id=tenant.pk),
                desc=tenant.slug,
                unit="event",
                disable=options["no_progress"],
                file=self.stderr,
            ) as bar:
                for line in audit_export_lines(_counted(rows, bar), fmt=fmt):
                    write(line)
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, like other tools.
            self.stderr.write("audit_export: output closed, export stopped.")
        finally:
            rows.close()  # release the server-side cursor now
            if output is not None:
                output.close()


def _counted(rows, bar):
    for row in rows:
        bar.update(1)
        yield row

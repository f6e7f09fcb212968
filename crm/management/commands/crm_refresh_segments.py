"""Recompute the membership of every segment (or of one brand's, or of one)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from crm.models import Segment
from crm.services import segment_refresh
from tenants.features import Feature, tenant_feature_enabled


class Command(BaseCommand):
    help = (
        "Refresh segment membership in the database (brands with CRM enabled); "
        "one transaction per segment."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this brand's segments (slug).")
        parser.add_argument("--segment", type=int, help="Only this segment (id).")
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar (cron logs)."
        )

    def handle(self, *args, tenant=None, segment=None, no_progress=False, **options):
        segments = Segment.objects.select_related("tenant").order_by("tenant_id", "pk")
        if tenant:
            segments = segments.filter(tenant__slug=tenant)
        if segment:
            segments = segments.filter(pk=segment)
        segments = [
            s
            for s in segments
            if tenant_feature_enabled(tenant=s.tenant, feature=Feature.CRM)
        ]
        if (tenant or segment) and not segments:
            raise CommandError("No segment matches (or the brand has CRM disabled).")
        total = 0
        with tqdm(
            total=len(segments), unit="segment", disable=no_progress, file=self.stderr
        ) as bar:
            for item in segments:
                bar.set_postfix_str(f"{item.tenant.slug}/{item.name}")
                with transaction.atomic(durable=True):
                    result = segment_refresh(segment=item)
                total += result.member_count
                self.stdout.write(
                    f"{item.tenant.slug}/{item.name}: {result.member_count} members "
                    f"(+{result.added} -{result.removed})"
                )
                bar.update(1)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(segments)} segment(s) refreshed, {total} members."
            )
        )

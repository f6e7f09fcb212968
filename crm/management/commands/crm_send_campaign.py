"""Send a campaign to its segment, streaming in batches; rerunning mails nobody twice."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.actors import Actor
from common.errors import ApplicationError
from crm.models import Campaign
from crm.segments import segment_player_queryset, segment_rules_parse
from crm.services import campaign_send
from tenants.features import Feature, tenant_feature_require


class Command(BaseCommand):
    help = "Send a campaign (idempotent: players already mailed are skipped)."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, campaign_id, batch_size=None, no_progress=False, **opts):
        campaign = (
            Campaign.objects.select_related("tenant", "segment")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        try:
            tenant_feature_require(tenant=campaign.tenant, feature=Feature.CRM)
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        matching = segment_player_queryset(
            tenant=campaign.tenant, spec=segment_rules_parse(campaign.segment.rules)
        ).count()
        with tqdm(
            total=matching, unit="player", disable=no_progress, file=self.stderr
        ) as bar:
            result = campaign_send(
                actor=Actor.system("crm_send_campaign"),
                campaign=campaign,
                batch_size=batch_size,
                progress=bar.update,
            )
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(result.counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{campaign.name}: {summary}"))

"""CRM demo data for every brand of the demo (idempotent): tags on players, a pinned
note, e-mail consent, two segments refreshed, a draft campaign."""

from django.core.management.base import BaseCommand
from django.db import transaction

from casino.models import Player
from common.actors import Actor
from crm import services
from crm.models import Campaign, Consent, Note, Segment, Tag
from tenants.models import Tenant

SEED = Actor.system("seed_crm_demo")


class Command(BaseCommand):
    help = "CRM demo data for the demo brands (run by make seed; idempotent)."

    def handle(self, *args, **options):
        for tenant in Tenant.objects.order_by("pk"):
            with transaction.atomic(durable=True):
                self._brand(tenant)
            self.stdout.write(f"CRM demo data for {tenant.slug}")

    def _brand(self, tenant: Tenant) -> None:
        vip = Tag.objects.filter(tenant=tenant, name__iexact="vip").first()
        if vip is None:
            vip = services.tag_create(
                actor=SEED, tenant=tenant, name="vip", description="High value"
            )
        players = list(Player.objects.filter(tenant=tenant).order_by("pk")[:20])
        for index, player in enumerate(players):
            if index % 2 == 0:
                services.player_tag_add(actor=SEED, player=player, tag=vip)
            services.consent_set(
                actor=SEED,
                player=player,
                channel=Consent.Channel.EMAIL,
                granted=index % 3 != 2,
                source="signup-form",
            )
            if not Note.objects.filter(player=player).exists():
                services.note_create(
                    actor=SEED,
                    player=player,
                    body="Welcome call done; prefers e-mail.",
                    pinned=index == 0,
                )
        segments = {
            "VIP players": {"has_tags": ["vip"]},
            "Verified": {"kyc_status_in": ["verified"]},
        }
        for name, rules in segments.items():
            segment = Segment.objects.filter(tenant=tenant, name=name).first()
            if segment is None:
                segment = services.segment_create(
                    actor=SEED, tenant=tenant, name=name, rules=rules
                )
            services.segment_refresh(segment=segment)
        vip_segment = Segment.objects.get(tenant=tenant, name="VIP players")
        if not Campaign.objects.filter(tenant=tenant, name="VIP weekend").exists():
            services.campaign_create(
                actor=SEED,
                segment=vip_segment,
                name="VIP weekend",
                subject_template="{{ player.display_name }}, your VIP weekend",
                body_template="Hello {{ player.display_name }},\n\n"
                "{{ brand }} has a VIP weekend for you.\n",
            )

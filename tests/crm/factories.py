"""CRM test data, built through the CRM services."""

from casino.models import Player
from common.actors import Actor
from crm import services
from crm.models import Consent
from tenants.api_keys import api_key_create
from tenants.features import Feature, tenant_feature_set

SYSTEM = Actor.system("tests")


def crm_rows(tenant, player: Player, operator) -> dict:
    """A row of every CRM model for one brand (the admin isolation tests need one of
    each registered model per brand)."""
    actor = Actor.for_user(operator)
    tag = services.tag_create(actor=actor, tenant=tenant, name=f"vip-{tenant.slug}")
    services.player_tag_add(actor=actor, player=player, tag=tag)
    note = services.note_create(actor=actor, player=player, body="Called about KYC")
    services.note_update(actor=actor, note=note, pinned=True)
    services.consent_set(
        actor=actor,
        player=player,
        channel=Consent.Channel.EMAIL,
        granted=True,
        source="signup-form",
    )
    segment = services.segment_create(
        actor=actor, tenant=tenant, name="Everyone", rules={}
    )
    services.segment_refresh(segment=segment)
    campaign = services.campaign_create(
        actor=actor,
        segment=segment,
        name="Welcome",
        subject_template="Hello {{ player.display_name }}",
        body_template="Welcome to {{ brand }}.",
    )
    key, raw = api_key_create(
        actor=actor, tenant=tenant, name="crm tool", scopes=["crm:read", "crm:write"]
    )
    tenant_feature_set(
        actor=SYSTEM, tenant=tenant, feature=Feature.AFFILIATES, enabled=False
    )
    services.campaign_send(actor=SYSTEM, campaign=campaign)
    return {
        "tag": tag,
        "note": note,
        "segment": segment,
        "campaign": campaign,
        "api_key": key,
        "raw_key": raw,
    }

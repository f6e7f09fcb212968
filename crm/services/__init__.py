"""Every CRM write. Admin, API and commands call these, so a rule lives in one place."""

from crm.services.campaigns import campaign_create, campaign_send
from crm.services.consent import consent_set
from crm.services.notes import note_create, note_update
from crm.services.segments import segment_create, segment_refresh, segment_update
from crm.services.tags import (
    player_tag_add,
    player_tag_remove,
    tag_create,
    tag_update,
)

__all__ = [
    "campaign_create",
    "campaign_send",
    "consent_set",
    "note_create",
    "note_update",
    "player_tag_add",
    "player_tag_remove",
    "segment_create",
    "segment_refresh",
    "segment_update",
    "tag_create",
    "tag_update",
]

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from casino.models import Player
from common import clock
from common.actors import Actor
from common.errors import ValidationFailed
from crm.models import Consent


def consent_set(
    *, actor: Actor, player: Player, channel: str, granted: bool, source: str
) -> Consent:
    """Record a player's opt-in or opt-out on a channel, when and where it was given.
    Setting what is already recorded changes nothing (the first timestamp stays)."""
    if channel not in Consent.Channel.values:
        raise ValidationFailed(
            details={"fields": {"channel": [f"one of {Consent.Channel.values}"]}}
        )
    source = source.strip()
    if not source or len(source) > 100:
        raise ValidationFailed(details={"fields": {"source": ["1 to 100 characters"]}})
    with transaction.atomic(savepoint=False):
        consent = (
            Consent.objects.select_for_update()
            .filter(player=player, channel=channel)
            .first()
        )
        before = None if consent is None else {"granted": consent.granted}
        if consent is not None and consent.granted == granted:
            return consent
        if consent is None:
            consent = Consent(
                tenant_id=player.tenant_id, player=player, channel=channel
            )
        consent.granted = granted
        consent.source = source
        consent.recorded_at = clock.now()
        consent.save()
        audit_record(
            actor=actor,
            action="crm.consent_changed",
            tenant_id=player.tenant_id,
            target=player,
            before=before,
            after={"channel": channel, "granted": granted, "source": source},
        )
    return consent

from __future__ import annotations

from django.db import IntegrityError, transaction

from audit.services import audit_record
from casino.models import Player
from common.actors import Actor
from common.errors import ValidationFailed
from crm.exceptions import TagAlreadyExists
from crm.models import PlayerTag, PlayerTagChange, Tag
from tenants.models import Tenant


def tag_create(
    *, actor: Actor, tenant: Tenant, name: str, description: str = ""
) -> Tag:
    name = name.strip()
    if not name or len(name) > 50:
        raise ValidationFailed(details={"fields": {"name": ["1 to 50 characters"]}})
    with transaction.atomic(savepoint=False):
        if Tag.objects.filter(tenant=tenant, name__iexact=name).exists():
            raise TagAlreadyExists(details={"name": name})
        try:
            with transaction.atomic():
                tag = Tag.objects.create(
                    tenant=tenant, name=name, description=description.strip()
                )
        except IntegrityError as exc:  # a concurrent create won
            raise TagAlreadyExists(details={"name": name}) from exc
        audit_record(
            actor=actor,
            action="crm.tag_created",
            tenant_id=tenant.pk,
            target=tag,
            after={"name": name, "description": tag.description},
        )
    return tag


def tag_update(*, actor: Actor, tag: Tag, description: str) -> Tag:
    """Only the description changes: a tag's name is what segments and tools match."""
    description = description.strip()
    with transaction.atomic(savepoint=False):
        locked = Tag.objects.select_for_update().get(pk=tag.pk)
        if locked.description == description:
            return locked
        before = locked.description
        locked.description = description
        locked.save(update_fields=["description"])
        audit_record(
            actor=actor,
            action="crm.tag_updated",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"description": before},
            after={"description": description},
        )
    return locked


def player_tag_add(*, actor: Actor, player: Player, tag: Tag) -> PlayerTag:
    """Tag a player (once; a repeat is a no-op). The tag must be of the player's brand."""
    if tag.tenant_id != player.tenant_id:
        raise ValidationFailed(details={"fields": {"tag": ["not a tag of this brand"]}})
    with transaction.atomic(savepoint=False):
        link, created = PlayerTag.objects.get_or_create(
            player=player,
            tag=tag,
            defaults={"tenant_id": player.tenant_id, "added_by": actor.label},
        )
        if created:
            PlayerTagChange.objects.create(
                tenant_id=player.tenant_id,
                player=player,
                tag_name=tag.name,
                action=PlayerTagChange.Action.ADDED,
                actor_label=actor.label,
            )
            audit_record(
                actor=actor,
                action="crm.player_tagged",
                tenant_id=player.tenant_id,
                target=player,
                after={"tag": tag.name},
            )
    return link


def player_tag_remove(*, actor: Actor, player: Player, tag: Tag) -> bool:
    with transaction.atomic(savepoint=False):
        deleted, _ = PlayerTag.objects.filter(player=player, tag=tag).delete()
        if deleted:
            PlayerTagChange.objects.create(
                tenant_id=player.tenant_id,
                player=player,
                tag_name=tag.name,
                action=PlayerTagChange.Action.REMOVED,
                actor_label=actor.label,
            )
            audit_record(
                actor=actor,
                action="crm.player_untagged",
                tenant_id=player.tenant_id,
                target=player,
                before={"tag": tag.name},
            )
    return bool(deleted)

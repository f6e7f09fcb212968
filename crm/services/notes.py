from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from casino.models import Player
from common.actors import Actor
from common.errors import ValidationFailed
from crm.models import Note, NoteRevision

MAX_NOTE_LENGTH = 10_000


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body or len(body) > MAX_NOTE_LENGTH:
        raise ValidationFailed(
            details={"fields": {"body": [f"1 to {MAX_NOTE_LENGTH} characters"]}}
        )
    return body


def note_create(
    *, actor: Actor, player: Player, body: str, pinned: bool = False, author=None
) -> Note:
    body = _clean_body(body)
    with transaction.atomic(savepoint=False):
        note = Note.objects.create(
            tenant_id=player.tenant_id,
            player=player,
            body=body,
            pinned=pinned,
            author=author,
            author_label=actor.label,
        )
        audit_record(
            actor=actor,
            action="crm.note_created",
            tenant_id=player.tenant_id,
            target=note,
            after={"player_id": player.pk, "pinned": pinned, "length": len(body)},
        )
    return note


def note_update(
    *, actor: Actor, note: Note, body: str | None = None, pinned: bool | None = None
) -> Note:
    """Edit a note's body and/or pin; the previous version is kept as a revision."""
    with transaction.atomic(savepoint=False):
        locked = Note.objects.select_for_update().get(pk=note.pk)
        new_body = _clean_body(body) if body is not None else locked.body
        new_pinned = locked.pinned if pinned is None else pinned
        if new_body == locked.body and new_pinned == locked.pinned:
            return locked
        NoteRevision.objects.create(
            tenant_id=locked.tenant_id,
            note=locked,
            body=locked.body,
            pinned=locked.pinned,
            edited_by=actor.label,
        )
        before = {"pinned": locked.pinned, "body_changed": False}
        after = {"pinned": new_pinned, "body_changed": new_body != locked.body}
        locked.body = new_body
        locked.pinned = new_pinned
        locked.save(update_fields=["body", "pinned", "updated_at"])
        audit_record(
            actor=actor,
            action="crm.note_updated",
            tenant_id=locked.tenant_id,
            target=locked,
            before=before,
            after=after,
        )
    return locked

import pytest

from audit.models import AuditEvent
from casino.services import player_set_status
from common.actors import Actor
from common.errors import ValidationFailed
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("ops")


def test_setting_the_status_a_player_already_has_records_nothing():
    player = PlayerFactory()

    player_set_status(actor=OPERATOR, player=player, status="active", reason="noop")

    assert not AuditEvent.objects.filter(action="player.status_changed").exists()


def test_blocking_is_audited_with_before_and_after():
    player = PlayerFactory()

    player_set_status(actor=OPERATOR, player=player, status="blocked", reason="fraud")

    event = AuditEvent.objects.get(action="player.status_changed")
    assert (event.before, event.after, event.reason) == (
        {"status": "active"},
        {"status": "blocked"},
        "fraud",
    )


def test_an_unknown_status_is_refused_and_changes_nothing():
    player = PlayerFactory()

    with pytest.raises(ValidationFailed):
        player_set_status(actor=OPERATOR, player=player, status="deleted", reason="x")

    player.refresh_from_db()
    assert player.status == "active"

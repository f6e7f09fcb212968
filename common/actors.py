"""Who did a thing: recorded on every journal transaction and audit event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # "user" (operator/staff), "player", "system" or "psp"
    label: str
    user_id: int | None = None
    player_id: int | None = None

    USER = "user"
    PLAYER = "player"
    SYSTEM = "system"
    PSP = "psp"

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(type=cls.USER, label=user.get_username(), user_id=user.pk)

    @classmethod
    def for_player(cls, player: Any) -> Actor:
        return cls(type=cls.PLAYER, label=f"player:{player.pk}", player_id=player.pk)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(type=cls.SYSTEM, label=label)

    @classmethod
    def psp(cls, provider: str) -> Actor:
        return cls(type=cls.PSP, label=provider)

"""Demo seed commands create a superuser with a published password and players with
made-up money: they run only on a development settings (DEBUG on)."""

from django.conf import settings
from django.core.management.base import CommandError


def demo_seed_refused_without_debug(command: str) -> None:
    if not settings.DEBUG:
        raise CommandError(
            f"{command} creates demo users with known passwords and refuses to run "
            "with DEBUG off. Run it on a development database with DEBUG=true."
        )

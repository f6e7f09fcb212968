"""The load test over the real server (issue 14): ``python -m tests.load``."""

import os


def client_process_setup() -> None:
    """Pool initializer: a spawned client process sets Django up before it unpickles
    its task (whose module imports models)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casino.settings")
    import django

    django.setup()

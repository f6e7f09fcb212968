"""Settings the test suite loads (pyproject's DJANGO_SETTINGS_MODULE): the
development defaults, whatever the shell says about DEBUG. pytest-django still runs
each test with ``settings.DEBUG = False``; this only decides how settings load."""

import os

os.environ["DEBUG"] = "true"

from casino.settings import *  # noqa: E402, F403

# Each test sees its own configs' current secrets: the webhook config cache is off
# unless a test turns it on (tests/payments/test_webhook_intake.py).
WEBHOOK_CONFIG_CACHE_SECONDS = 0

# Publishes happen in the request's thread, so a test sees them when the request
# returns (tests/common/test_task_publisher.py tests the background publisher).
TASK_PUBLISH_IN_BACKGROUND = False

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def production_env(**overrides: str) -> dict[str, str]:
    """The documented production environment (docs/deploy.md), with overrides; a
    value of "" removes the variable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "SECURE_"))
        and key not in ("DEBUG", "PAYMENTS_SIMULATOR_ENABLED")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "casino.settings",
            "DEBUG": "false",
            "SECRET_KEY": "k3y-" + "x" * 60,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "casino.example.com",
            "CACHE_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
            # issue 10's mailer: `check --deploy` refuses the console backend.
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        }
    )
    for key, value in overrides.items():
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(code: str, env: dict[str, str], timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def prod_env():
    return production_env

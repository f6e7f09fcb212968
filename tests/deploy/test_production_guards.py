"""Settings refuse unsafe production combinations as they load, under any server:
each case imports ``casino.wsgi`` (what gunicorn does) in a fresh interpreter."""

import subprocess
import sys

import pytest

from tests.deploy.conftest import ROOT, production_env, run_python

LOAD_WSGI = "import casino.wsgi; print('loaded')"


def test_the_documented_production_environment_loads():
    result = run_python(LOAD_WSGI, production_env())
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is the public development key"),
        (
            {"SECRET_KEY": "dev-only-insecure-key-do-not-use-in-production"},
            "SECRET_KEY is the public development key",
        ),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is the public development key"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS is empty"),
        ({"PAYMENTS_SIMULATOR_ENABLED": "true"}, "PAYMENTS_SIMULATOR_ENABLED is on"),
        ({"CACHE_URL": ""}, "cache 'default' is process-local"),
        ({"CACHE_URL": "locmemcache://x"}, "cache 'default' is process-local"),
        ({"CACHE_URL": "dummycache://"}, "cache 'default' is process-local"),
        ({"CELERY_BROKER_URL": ""}, "CELERY_BROKER_URL is empty"),
    ],
)
def test_wsgi_refuses_to_load_an_unsafe_production_setting(overrides, refusal):
    result = run_python(LOAD_WSGI, production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert refusal in result.stderr
    assert "loaded" not in result.stdout


def test_debug_defaults_to_off():
    result = run_python(
        "from django.conf import settings; import django; django.setup(); "
        "print('DEBUG', settings.DEBUG)",
        production_env(DEBUG=""),
    )
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_debug_unset_with_development_defaults_refuses_to_load():
    """A deploy that forgets DEBUG gets no debug page: it gets no server at all
    until it is configured."""
    result = run_python(
        LOAD_WSGI,
        production_env(DEBUG="", SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", CACHE_URL=""),
    )
    assert result.returncode != 0
    assert "refusing to start with DEBUG off" in result.stderr


def test_eager_tasks_without_a_broker_load_when_asked_for_on_purpose():
    result = run_python(
        LOAD_WSGI,
        production_env(CELERY_BROKER_URL="", CELERY_TASK_ALWAYS_EAGER="true"),
    )
    assert result.returncode == 0, result.stderr


def test_the_simulator_is_not_routed_without_debug(prod_env):
    """Even with the refusal bypassed in a test process, the URLconf routes the
    simulator only when DEBUG is on as well."""
    code = (
        "import django, importlib; django.setup(); "
        "from django.conf import settings; "
        "settings.PAYMENTS_SIMULATOR_ENABLED = True; "
        "import casino.urls; importlib.reload(casino.urls); "
        "print('routed', any('simulator' in str(p.pattern) "
        "for p in casino.urls.urlpatterns))"
    )
    result = run_python(code, prod_env())
    assert result.returncode == 0, result.stderr
    assert "routed False" in result.stdout


def test_an_unconfigured_checkout_can_check_its_migrations_but_not_migrate():
    """makemigrations only compares models with files: it runs without production
    settings; a command that touches the database still refuses."""
    unconfigured = production_env(
        DEBUG="", SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", CACHE_URL=""
    )
    check = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=unconfigured,
        capture_output=True,
        text=True,
        timeout=120,
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--plan"],
        cwd=ROOT,
        env=unconfigured,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert check.returncode == 0, check.stderr
    assert "No changes detected" in check.stdout
    assert migrate.returncode != 0
    assert "refusing to start with DEBUG off" in migrate.stderr

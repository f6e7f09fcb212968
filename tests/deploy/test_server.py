"""The production server as documented: `check --deploy` is clean, and gunicorn with
DEBUG off serves the admin's static files and the API docs (WhiteNoise) with the
security headers on."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from casino import live_stack
from tests.deploy.conftest import ROOT, production_env, run_python


def test_check_deploy_is_clean_at_warning_level_in_the_documented_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_defaults_are_the_safe_ones():
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.DATABASES['default']['CONN_MAX_AGE'], "
        "s.CELERY_TASK_ALWAYS_EAGER)",
        production_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "31536000", "True", "True", "60", "False"]


def test_security_settings_follow_their_environment_variables():
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)",
        production_env(
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="60",
            SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False 60 ('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.fixture
def gunicorn(tmp_path):
    env = production_env(STATIC_ROOT=str(tmp_path / "static"))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port = live_stack.free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    env["WEB_CONCURRENCY"] = "1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "casino.wsgi",
            "-c",
            "casino/gunicorn_conf.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=20)


def get(url: str):
    request = urllib.request.Request(
        url, headers={"Host": "casino.example.com", "X-Forwarded-Proto": "https"}
    )
    return urllib.request.urlopen(request, timeout=10)


def test_gunicorn_serves_static_files_and_api_docs_with_debug_off(gunicorn):
    css = get(f"{gunicorn}/static/admin/css/base.css")
    assert css.status == 200
    assert "max-age" in css.headers["Cache-Control"]
    docs = get(f"{gunicorn}/api/docs/")
    html = docs.read().decode()
    assert docs.status == 200
    assert "default-src 'self'" in docs.headers["Content-Security-Policy"]
    assert "max-age=31536000" in docs.headers["Strict-Transport-Security"]
    bundle = html.split('src="')[1].split('"')[0]
    assert get(f"{gunicorn}{bundle}").status == 200


def test_gunicorn_redirects_plain_http_to_https(gunicorn):
    request = urllib.request.Request(
        f"{gunicorn}/admin/login/", headers={"Host": "casino.example.com"}
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as response:
        opener.open(request, timeout=10)
    assert response.value.code == 301
    assert response.value.headers["Location"].startswith("https://casino.example.com/")

"""Raw bytes over a real socket to the running server (Django's live server,
the same WSGI stack as runserver): what the test client cannot send, such as
bytes that are not UTF-8 in the request line, still gets a 4xx."""

import re
import socket

import pytest

from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


def send(live_server, raw: bytes) -> int:
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    match = _STATUS.match(answer)
    assert match, answer[:200]
    return int(match.group(1))


def post(path: bytes, body: bytes, *, headers: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\n"
        + headers
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        b"Connection: close\r\n\r\n" + body
    )


PROBES = {
    "nul in the path": b"GET /api/v1/webhooks/stripe/%00/ HTTP/1.1\r\n"
    b"Host: localhost\r\nConnection: close\r\n\r\n",
    "raw 0xff in the path": b"GET /login/\xff\xfe HTTP/1.1\r\n"
    b"Host: localhost\r\nConnection: close\r\n\r\n",
    "raw 0xff in the query": b"GET /login/?tenant=\xff HTTP/1.1\r\n"
    b"Host: localhost\r\nConnection: close\r\n\r\n",
    "nul in X-Tenant": post(
        b"/api/v1/auth/login", b"{}", headers=b"X-Tenant: alpha\x00\r\n"
    ),
    "latin-1 in Authorization": post(
        b"/api/v1/me", b"", headers=b"X-Tenant: alpha\r\nAuthorization: \xe9\xff\r\n"
    ),
    "deep json": post(b"/api/v1/auth/register", b"[" * 100_000),
    "content-length larger than the body": post(b"/api/v1/auth/login", b"{}").replace(
        b"Content-Length: 2", b"Content-Length: 5000000"
    ),
    "negative content-length": post(b"/api/v1/auth/login", b"{}").replace(
        b"Content-Length: 2", b"Content-Length: -5"
    ),
    "garbage request line": b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    "junk host": b"GET /api/v1/me HTTP/1.1\r\nHost: \xff\x00evil\r\n"
    b"Connection: close\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_raw_probe_gets_a_4xx(live_server, name):
    TenantFactory(slug="alpha")

    status = send(live_server, PROBES[name])

    assert 400 <= status < 500, name

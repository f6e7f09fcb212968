"""One client's keep-alive HTTP connection to the server under load, timing every
request into a ``Recorder`` by endpoint (a route pattern, not the concrete URL)."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

# gunicorn closes a connection idle this long (keepalive = 5 s): reconnect before.
IDLE_RECONNECT_SECONDS = 4.0


@dataclass
class Recorder:
    """Per endpoint: every latency (ms) and the outcomes (``"201"``,
    ``"422 INSUFFICIENT_FUNDS"``, ``"transport ConnectionResetError"``)."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, endpoint: str, ms: float, outcome: str) -> None:
        self.samples[endpoint].append(ms)
        self.outcomes[endpoint][outcome] += 1

    def merge(self, other: Recorder) -> None:
        for endpoint, values in other.samples.items():
            self.samples[endpoint].extend(values)
        for endpoint, counts in other.outcomes.items():
            self.outcomes[endpoint].update(counts)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")

    @property
    def code(self) -> str:
        """The registry code of an error body (docs/api.md), else ``""``."""
        if self.status < 400 or not self.body.startswith(b"{"):
            return ""
        try:
            return str(self.json().get("error", {}).get("code", ""))
        except (ValueError, AttributeError):
            return ""


class Session:
    """Sequential requests of one simulated person (or PSP) over one connection,
    behind a proxy that says who the client is (``X-Forwarded-For``: the server runs
    with ``TRUSTED_PROXY_COUNT=1``, so per-IP rate limits see each person)."""

    def __init__(self, *, host: str, port: int, recorder: Recorder, ip: str) -> None:
        self.host, self.port, self.recorder, self.ip = host, port, recorder, ip
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        idle = time.monotonic() - self.last_used
        if self.conn is not None and idle > IDLE_RECONNECT_SECONDS:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self.conn

    def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        json_body=None,
        form: dict | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply | None:
        """The reply, or ``None`` after a transport failure (recorded as such)."""
        sent = {"X-Forwarded-For": self.ip, **self.headers, **(headers or {})}
        body = raw
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            conn = self._connection()
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.recorder.add(
                endpoint,
                (time.perf_counter() - started) * 1000,
                f"transport {type(exc).__name__}",
            )
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None
        ms = (time.perf_counter() - started) * 1000
        self.last_used = time.monotonic()
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        reply = Reply(
            status=response.status, headers=dict(response.headers.items()), body=data
        )
        self.recorder.add(
            endpoint, ms, f"{reply.status} {reply.code}".strip() or str(reply.status)
        )
        return reply

"""The one local HTTP server standing in for Adyen in tests (Checkout, Transfers).

It answers each request by its path when a test put a reply in ``routes``
(``"/transfers/TR-1" → (200, {...})``), else with ``answer(request)`` when set (a
reply made per request: each payment link or transfer its own id, as in a load
run), else with the default reply (``status``/``body``), and keeps every request it received (method, path, headers,
JSON body). Used for what Prism cannot produce (5xx, refusals, unreadable answers)
and for runs that ask about several payment links and transfers.

Like Adyen, a POST repeated with an ``Idempotency-Key`` it already answered with a
2xx gets that first answer again and creates nothing new (``created(path)`` counts
what was really created). Fault modes (issue 14, tests/adyen/test_fault_injection.py),
each off by default:

- ``delay_seconds``: Adyen acts on the request, then answers this late (longer than
  the client's timeout: the answer is lost, the transfer or link exists);
- ``drip_stall_seconds``: Adyen acts, sends the headers and half the body, stalls;
- ``fail_with_status``: Adyen answers this status (500...) and does nothing;
- ``garbage_reply``: a 200 whose body is not JSON (a proxy's page), nothing done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAdyen:
    def __init__(self) -> None:
        self.status = 200
        self.body: dict = {}
        # path → (HTTP status, JSON body); a path not listed gets the default reply.
        self.routes: dict[str, tuple[int, dict]] = {}
        self.answer: Callable[[dict], tuple[int, dict]] | None = None
        self.requests: list[dict] = []
        self.delay_seconds: float = 0
        self.drip_stall_seconds: float = 0
        self.fail_with_status: int | None = None
        self.garbage_reply: bytes | None = None
        # Idempotency-Key → (path, HTTP status, body) of the first 2xx answer.
        self.idempotent_replies: dict[str, tuple[str, int, bytes]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(raw or b"{}"),
                }
                fake.requests.append(request)
                if fake.garbage_reply is not None:
                    self._send(200, fake.garbage_reply)
                    return
                if fake.fail_with_status:
                    self._send(
                        fake.fail_with_status,
                        json.dumps(
                            {"status": fake.fail_with_status, "errorType": "internal"}
                        ).encode(),
                    )
                    return
                key = self.headers.get("Idempotency-Key") or ""
                replay = fake.idempotent_replies.get(key) if key else None
                if self.command == "POST" and replay is not None:
                    status, payload = replay[1], replay[2]
                else:
                    if self.path in fake.routes:
                        status, body = fake.routes[self.path]
                    elif fake.answer is not None:
                        status, body = fake.answer(request)
                    else:
                        status, body = fake.status, fake.body
                    payload = json.dumps(body).encode()
                    if self.command == "POST" and key and 200 <= status < 300:
                        fake.idempotent_replies[key] = (self.path, status, payload)
                # Whatever follows, Adyen has acted: only the answer is late or torn.
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                self._send(status, payload)

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if fake.drip_stall_seconds:
                        self.wfile.write(payload[: len(payload) // 2])
                        self.wfile.flush()
                        time.sleep(fake.drip_stall_seconds)
                        payload = payload[len(payload) // 2 :]
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timed out) and closed
                    pass

            do_GET = _handle  # noqa: N815 (http.server names)
            do_POST = _handle  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def asked(self) -> list[tuple[str, str]]:
        """(method, path) of every request, in order."""
        return [(request["method"], request["path"]) for request in self.requests]

    def created(self, path: str) -> int:
        """How many POSTs to ``path`` Adyen acted on (one per Idempotency-Key)."""
        return sum(1 for where, *_ in self.idempotent_replies.values() if where == path)

    def heal(self) -> None:
        self.delay_seconds = self.drip_stall_seconds = 0
        self.fail_with_status = self.garbage_reply = None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

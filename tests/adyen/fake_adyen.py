"""The one local HTTP server standing in for Adyen in tests (Checkout, Transfers).

It answers each request by its path when a test put a reply in ``routes``
(``"/transfers/TR-1" → (200, {...})``), else with the default reply
(``status``/``body``), or, when a test set a ``responder``, with what it returns
for each request; it keeps every request it received (method, path, headers,
JSON body). Used for what Prism cannot produce (5xx, refusals, unreadable answers)
and for runs that ask about several payment links and transfers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAdyen:
    def __init__(self) -> None:
        self.status = 200
        self.body: dict = {}
        # path → (HTTP status, JSON body); a path not listed gets the default reply.
        self.routes: dict[str, tuple[int, dict]] = {}
        # (method, path, JSON body) → (HTTP status, JSON body), asked before routes
        # and the default: for runs that need a fresh answer per request (a new
        # transfer or refund id each time, an outcome chosen per call).
        self.responder: Callable[[str, str, dict], tuple[int, dict]] | None = None
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(raw or b"{}"),
                    }
                )
                if fake.responder is not None:
                    status, body = fake.responder(
                        self.command, self.path, fake.requests[-1]["json"]
                    )
                else:
                    status, body = fake.routes.get(self.path, (fake.status, fake.body))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

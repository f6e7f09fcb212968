"""A local HTTP server standing in for Adyen, like tests/adyen/fake_adyen.py, but
answering per request path (GET and POST), so one run can ask about several payment
links and transfers. Unknown paths get Adyen's 404 error body."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAdyenRoutes:
    def __init__(self) -> None:
        # path → (HTTP status, JSON body), e.g. "/transfers/TR-1" → (200, {...})
        self.routes: dict[str, tuple[int, dict]] = {}
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                fake.requests.append((self.command, self.path))
                status, body = fake.routes.get(
                    self.path,
                    (404, {"status": 404, "errorCode": "000", "message": "Not found"}),
                )
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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

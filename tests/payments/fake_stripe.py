"""A local HTTP peer that speaks Stripe's wire format: form-encoded requests with
bracketed keys, JSON objects back, Stripe's error envelope. It records every request
so tests can check what the real ``stripe`` library sent."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    valid_keys: set[str] = field(default_factory=set)
    fail_with_status: int | None = None
    # Checkout Sessions GET /v1/checkout/sessions/<id> returns, by id: a test puts
    # in the session as Stripe would show it (open, expired, complete and paid...).
    sessions: dict[str, dict] = field(default_factory=dict)
    # Seconds every answer takes (a hanging Stripe).
    delay_seconds: float = 0
    # A 200 whose body is not what Stripe sends (truncated, a proxy's page...).
    garbage_reply: bytes | None = None
    refund_status: str = "pending"
    # Fault modes (issue 14, tests/payments/test_fault_injection.py):
    # sleep this long before answering (longer than STRIPE_TIMEOUT_SECONDS: a timeout)
    delay_seconds: float = 0
    # send the headers and half the body, then stall this long (a slow drip)
    drip_stall_seconds: float = 0
    # Stripe's idempotency: a POST repeated with the same Idempotency-Key gets the
    # first answer again (and creates nothing new).
    idempotent_replies: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    created_sessions: int = 0
    created_refunds: int = 0

    def last(self, path: str) -> Recorded:
        return [r for r in self.requests if r.path == path][-1]


def _handler(state: FakeStripe):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict | bytes) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            key = self.headers.get("Idempotency-Key")
            if self.command == "POST" and key and status == 200:
                state.idempotent_replies.setdefault(key, (status, raw))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            try:
                if state.drip_stall_seconds:
                    self.wfile.write(raw[: len(raw) // 2])
                    self.wfile.flush()
                    time.sleep(state.drip_stall_seconds)
                    raw = raw[len(raw) // 2 :]
                self.wfile.write(raw)
            except OSError:  # the client gave up (timed out) and closed
                pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = urlsplit(self.path).path
            state.requests.append(
                Recorded(
                    method=self.command,
                    path=path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    form=dict(parse_qsl(body, keep_blank_values=True)),
                )
            )
            if state.delay_seconds:
                time.sleep(state.delay_seconds)
            replay = state.idempotent_replies.get(
                self.headers.get("Idempotency-Key") or ""
            )
            if self.command == "POST" and replay is not None:
                self._reply(*replay)
                return
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if key not in state.valid_keys:
                self._reply(
                    401,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Invalid API Key provided: sk_test_****",
                        }
                    },
                )
                return
            if state.garbage_reply is not None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.garbage_reply)))
                self.end_headers()
                self.wfile.write(state.garbage_reply)
                return
            if state.fail_with_status:
                self._reply(
                    state.fail_with_status,
                    {"error": {"type": "api_error", "message": "Fake failure"}},
                )
                return
            if self.command == "POST" and path == "/v1/checkout/sessions":
                form = state.requests[-1].form
                session_id = f"cs_test_{secrets.token_hex(12)}"
                state.created_sessions += 1
                self._reply(
                    200,
                    {
                        "id": session_id,
                        "object": "checkout.session",
                        "mode": form.get("mode"),
                        "status": "open",
                        "payment_status": "unpaid",
                        "amount_total": int(
                            form.get("line_items[0][price_data][unit_amount]", 0)
                        ),
                        "currency": form.get("line_items[0][price_data][currency]"),
                        "client_reference_id": form.get("client_reference_id"),
                        "metadata": {
                            k[len("metadata[") : -1]: v
                            for k, v in form.items()
                            if k.startswith("metadata[")
                        },
                        "success_url": form.get("success_url"),
                        "cancel_url": form.get("cancel_url"),
                        "expires_at": 1_900_000_000,
                        "livemode": False,
                        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                    },
                )
            elif (
                self.command == "GET"
                and path.removeprefix("/v1/checkout/sessions/") in state.sessions
            ):
                self._reply(
                    200, state.sessions[path.removeprefix("/v1/checkout/sessions/")]
                )
            elif self.command == "POST" and path == "/v1/refunds":
                form = state.requests[-1].form
                state.created_refunds += 1
                self._reply(
                    200,
                    {
                        "id": f"re_{secrets.token_hex(12)}",
                        "object": "refund",
                        "amount": int(form.get("amount", 0)),
                        "payment_intent": form.get("payment_intent"),
                        "metadata": {
                            k[len("metadata[") : -1]: v
                            for k, v in form.items()
                            if k.startswith("metadata[")
                        },
                        "status": state.refund_status,
                    },
                )
            elif self.command == "GET" and path == "/v1/balance":
                self._reply(
                    200,
                    {
                        "object": "balance",
                        "available": [{"amount": 0, "currency": "eur"}],
                        "pending": [],
                        "livemode": False,
                    },
                )
            else:
                self._reply(
                    404,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": f"Unrecognized request URL ({self.command} {path})",
                        }
                    },
                )

        do_GET = _handle  # noqa: N815 (http.server names)
        do_POST = _handle  # noqa: N815

    return Handler


class FakeStripeServer:
    def __init__(self) -> None:
        self.state = FakeStripe()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        host, port = self.server.server_address[:2]
        self.state.url = f"http://{host}:{port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self.state

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

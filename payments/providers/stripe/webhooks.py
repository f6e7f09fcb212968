"""Stripe webhook signatures, exactly as Stripe makes them.

``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each v1 is
HMAC-SHA256 over ``f"{t}.{raw body}"`` keyed with the whole ``whsec_...`` secret.
Verified on the raw bytes, never on re-serialised JSON. Stripe's library refuses
events older than the tolerance but accepts any future timestamp; we also refuse
timestamps more than ``FUTURE_SKEW_SECONDS`` ahead of our clock, so a captured
signature cannot be made to live longer than the tolerance."""

from __future__ import annotations

import hashlib
import hmac

from payments.exceptions import WebhookSignatureInvalid

TOLERANCE_SECONDS = 300
FUTURE_SKEW_SECONDS = 300


def compute_signature(*, payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(*, payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send for this body."""
    signature = compute_signature(payload=payload, secret=secret, timestamp=timestamp)
    return f"t={timestamp},v1={signature}"


def verify(
    *,
    payload: bytes,
    header: str | None,
    secret: str,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
    future_skew: int = FUTURE_SKEW_SECONDS,
) -> int:
    """Return the signed timestamp, or raise ``WebhookSignatureInvalid``."""
    if not secret:
        raise WebhookSignatureInvalid(details={"reason": "endpoint has no secret"})
    if not header:
        raise WebhookSignatureInvalid(details={"reason": "missing header"})
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                timestamp = None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookSignatureInvalid(details={"reason": "malformed header"})
    expected = compute_signature(payload=payload, secret=secret, timestamp=timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise WebhookSignatureInvalid(details={"reason": "no matching signature"})
    if timestamp < now - tolerance:
        raise WebhookSignatureInvalid(details={"reason": "timestamp too old"})
    if timestamp > now + future_skew:
        raise WebhookSignatureInvalid(details={"reason": "timestamp in the future"})
    return timestamp

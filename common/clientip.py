"""The client's IP address, trusting ``X-Forwarded-For`` only as far as configured.

``TRUSTED_PROXY_COUNT`` is the number of reverse proxies in front of the app that
each append the address they received the request from (nginx
``proxy_add_x_forwarded_for``, most load balancers). With ``N`` such proxies the
client is the ``N``-th address from the right: everything to its left was written
by the client and is never believed. With ``0`` (the default, no proxy) the header
is ignored and ``REMOTE_ADDR`` is the client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str:
    meta = request.META
    remote = _valid_ip(meta.get("REMOTE_ADDR", "") or "") or "unknown"
    hops = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if hops <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in (meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",")
        if part.strip()
    ]
    if len(forwarded) < hops:
        # Fewer entries than proxies: the request did not come through all of them
        # (or a proxy is misconfigured); the peer address is all we know.
        return remote
    return _valid_ip(forwarded[-hops]) or remote


def client_ip_or_none(request) -> str | None:
    """For IP columns (audit, django-axes): ``None`` rather than ``"unknown"``."""
    ip = client_ip(request)
    return None if ip == "unknown" else ip

"""Who and which brand a portal request is for.

The brand comes from the host (a ``TenantDomain``) like the API, or, for local demos
on 127.0.0.1, from ``?tenant=<slug>`` once, remembered in the session. The player is
the id stored in the session at login, and must belong to that brand."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare, salted_hmac
from django_ratelimit.exceptions import Ratelimited

from casino.models import Player
from common.errors import ApplicationError, RateLimited
from common.ratelimit import ratelimit_enforce
from tenants.models import Tenant
from tenants.selectors import tenant_get_for_request

SESSION_TENANT = "portal_tenant_id"
SESSION_PLAYER = "portal_player_id"
SESSION_PASSWORD = "portal_player_password_hmac"


def _password_fingerprint(player: Player) -> str:
    """Like Django's session auth hash: a new password ends every portal session."""
    return salted_hmac(
        "portal.session", player.password, algorithm="sha256"
    ).hexdigest()


def _tenant_for(request) -> Tenant:
    slug = request.GET.get("tenant", "").strip()
    if slug:
        tenant = tenant_get_for_request(header_slug=slug, host=None)
        if request.session.get(SESSION_TENANT) != tenant.pk:
            request.session.pop(SESSION_PLAYER, None)
        request.session[SESSION_TENANT] = tenant.pk
        return tenant
    tenant_id = request.session.get(SESSION_TENANT)
    if tenant_id:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:
            return tenant_get_for_request(header_slug=tenant.slug, host=None)
    return tenant_get_for_request(header_slug=None, host=request.get_host())


def player_login(request, player: Player) -> None:
    request.session.cycle_key()  # no session fixation
    request.session[SESSION_TENANT] = player.tenant_id
    request.session[SESSION_PLAYER] = player.pk
    request.session[SESSION_PASSWORD] = _password_fingerprint(player)


def player_logout(request) -> None:
    tenant_id = request.session.get(SESSION_TENANT)
    request.session.flush()
    if tenant_id:
        request.session[SESSION_TENANT] = tenant_id


def portal_view(*, login_required: bool, ratelimit_group: str = ""):
    """Sets ``request.tenant`` and ``request.player`` (None when logged out). With
    ``ratelimit_group``, a POST counts against the same limit as the API's door for
    that action (per player when logged in, else per IP)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                request.tenant = _tenant_for(request)
            except ApplicationError as error:
                brands = (
                    Tenant.objects.filter(status=Tenant.Status.ACTIVE)
                    if settings.DEBUG
                    else []
                )
                return render(
                    request,
                    "portal/no_brand.html",
                    {"error": error, "brands": brands},
                    status=error.http_status,
                )
            player_id = request.session.get(SESSION_PLAYER)
            request.player = (
                Player.objects.filter(pk=player_id, tenant=request.tenant)
                .select_related("tenant")
                .first()
                if player_id
                else None
            )
            if request.player is not None and (
                not request.player.is_active
                or not constant_time_compare(
                    request.session.get(SESSION_PASSWORD, ""),
                    _password_fingerprint(request.player),
                )
            ):
                player_logout(request)
                request.player = None
            if login_required and request.player is None:
                return redirect("portal:login")
            if ratelimit_group and request.method == "POST":
                try:
                    ratelimit_enforce(request, group=ratelimit_group)
                except Ratelimited as exc:
                    error = RateLimited(retry_after=exc.retry_after)
                    response = render(
                        request,
                        "portal/error.html",
                        {"error": error},
                        status=error.http_status,
                    )
                    response["Retry-After"] = str(error.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate

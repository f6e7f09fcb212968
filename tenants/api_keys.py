"""Scoped API keys for a brand's back-office tools.

A key is ``<prefix>.<secret>``; only the SHA-256 of the whole key is stored and the
raw value is returned once, by ``api_key_create``. Tools send it as ``X-Api-Key``.
The key names its brand, so an operator API request needs no ``X-Tenant``: it can
only ever reach the key's own brand."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import authentication
from rest_framework.views import APIView

from audit.services import audit_record
from common.actors import Actor
from common.errors import ValidationFailed
from tenants.exceptions import ApiKeyInvalid, ApiKeyScopeMissing
from tenants.features import tenant_feature_require
from tenants.models import ApiKey, Tenant

HEADER = "X-Api-Key"

#: Every scope a key may carry. A write scope does not imply the read scope.
SCOPES: dict[str, str] = {
    "crm:read": "Read players, tags, notes, segments and campaigns",
    "crm:write": "Create and change tags, notes, segments and campaigns; send campaigns",
    "payments:read": "Read deposits and withdrawals",
}

#: last_used_at (and its audit event) is written at most this often per key, so a
#: busy tool does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_actor(key: ApiKey) -> Actor:
    return Actor.system(f"api-key:{key.prefix} ({key.name})")


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise ValidationFailed(
            "Give at least one known scope.",
            details={"fields": {"scopes": unknown or ["empty"]}, "known": list(SCOPES)},
        )
    return scopes


def api_key_create(
    *, actor: Actor, tenant: Tenant, name: str, scopes: Iterable[str], created_by=None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never stored."""
    scopes = _validate_scopes(scopes)
    name = name.strip()
    if not name:
        raise ValidationFailed(details={"fields": {"name": ["required"]}})
    prefix = secrets.token_hex(4)
    raw = f"{prefix}.{secrets.token_urlsafe(32)}"
    with transaction.atomic(savepoint=False):
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name,
            prefix=prefix,
            key_hash=key_hash(raw),
            scopes=scopes,
            created_by=created_by,
        )
        audit_record(
            actor=actor,
            action="api_key.created",
            tenant_id=tenant.pk,
            target=key,
            after={"name": name, "prefix": prefix, "scopes": scopes},
        )
    return key, raw


def api_key_revoke(*, actor: Actor, key: ApiKey, reason: str = "") -> ApiKey:
    with transaction.atomic(savepoint=False):
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_key.revoked",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"revoked": False},
            after={"revoked": True},
            reason=reason,
        )
    return locked


def api_key_authenticate(*, raw: str) -> ApiKey:
    """The active key behind ``raw``; records its use (at most once a minute)."""
    key = (
        ApiKey.objects.select_related("tenant")
        .filter(key_hash=key_hash(raw.strip()), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.tenant.is_active:
        raise ApiKeyInvalid()
    now = timezone.now()
    touched = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(
            Q(last_used_at__isnull=True)
            | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        )
        .update(last_used_at=now)
    )
    if touched:
        key.last_used_at = now
        audit_record(
            actor=api_key_actor(key),
            action="api_key.used",
            tenant_id=key.tenant_id,
            target=key,
        )
    return key


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """``request.user`` of an operator API call: the key, not a person."""

    key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def actor(self) -> Actor:
        return api_key_actor(self.key)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = request.headers.get(HEADER, "")
        if not raw.strip():
            raise ApiKeyInvalid(f"Send the API key in the {HEADER} header.")
        key = api_key_authenticate(raw=raw)
        request.tenant = key.tenant
        request._request.tenant = key.tenant
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return HEADER


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": HEADER,
            "description": "A brand's API key, created in the admin (shown once). "
            "Each operation names the scope it needs.",
        }


class ApiKeyAutoSchema(AutoSchema):
    """Adds the scope an operation needs to its description."""

    def get_description(self):
        description = super().get_description() or ""
        scope = self.view.required_scope(self.method)
        return f"{description}\n\nNeeds the API-key scope `{scope}`.".strip()


class ApiKeyApi(APIView):
    """Base of every operator API view: API-key authentication, then the brand's
    feature gate, then the scope of the operation."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []
    schema = ApiKeyAutoSchema()
    #: The feature the brand must have (tenants.features).
    feature: str = ""
    read_scope = ""
    write_scope = ""

    @classmethod
    def required_scope(cls, method: str) -> str:
        return cls.read_scope if method.upper() in ("GET", "HEAD") else cls.write_scope

    def check_permissions(self, request):
        principal = request.user  # authenticates (or raises API_KEY_INVALID)
        if self.feature:
            tenant_feature_require(tenant=request.tenant, feature=self.feature)
        scope = self.required_scope(request.method)
        if scope not in principal.key.scopes:
            raise ApiKeyScopeMissing(details={"required_scope": scope})
        super().check_permissions(request)

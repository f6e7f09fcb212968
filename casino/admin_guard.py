"""No admin lookup, search or ordering through a secret field.

Django's ``ModelAdmin.lookup_allowed`` lets any changelist filter on any local
field, so ``?password__startswith=pbkdf2_sha256$1000000$a`` (or ``__regex``) read
hashes and salts out prefix by prefix, and ``?secret_key_encrypted__startswith=``
did the same with PSP credentials. It also turns a list filter's ValueError on junk
input into Django's "incorrect lookup" redirect instead of a 500. ``OperatorAdminSite.register`` wraps every
registered admin class in ``SensitiveFieldGuard``: a lookup path that touches a
sensitive field is refused (Django answers 400), such fields are dropped from the
search fields, and no changelist column that is one can be sorted.
"""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

# Field names that hold a secret or something derived from one.
SENSITIVE_NAME = re.compile(
    r"^(password|key|token|pin)$|secret|encrypted|hmac|_token$|token_|key_hash"
    r"|hashed|api_key|otp",
    re.IGNORECASE,
)


def is_sensitive_field(
    field: models.Field, extra: frozenset[str] = frozenset()
) -> bool:
    return bool(SENSITIVE_NAME.search(field.name)) or field.name in extra


def touches_sensitive_field(
    model: type[models.Model], path: str, extra: frozenset[str] = frozenset()
) -> bool:
    """Whether a lookup path (``player__password__startswith``, ``^email``) crosses
    a sensitive field on the way; the transforms after the last field do not matter."""
    current = model
    for part in path.lstrip("^=@").split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if is_sensitive_field(field, extra):
            return True
        if not field.is_relation or field.related_model is None:
            return False
        current = field.related_model
    return False


class SensitiveFieldGuard:
    #: More field names to treat as secret on this admin's model.
    sensitive_fields: tuple[str, ...] = ()

    def _sensitive_extra(self) -> frozenset[str]:
        return frozenset(self.sensitive_fields)

    def lookup_allowed(self, lookup, value, request):
        if touches_sensitive_field(self.model, lookup, self._sensitive_extra()):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        return [
            name
            for name in super().get_search_fields(request)
            if not touches_sensitive_field(self.model, name, self._sensitive_extra())
        ]

    def get_sortable_by(self, request):
        return [
            name
            for name in super().get_sortable_by(request)
            if not (
                isinstance(name, str)
                and touches_sensitive_field(self.model, name, self._sensitive_extra())
            )
        ]

    def get_changelist(self, request, **kwargs):
        base = super().get_changelist(request, **kwargs)
        model, extra = self.model, self._sensitive_extra()

        class GuardedChangeList(base):
            def get_queryset(self, request, exclude_parameters=None):
                # A list filter handed junk (``?tenant=abc``) raises ValueError
                # while building its query; Django answers IncorrectLookupParameters
                # with a redirect to ``?e=1`` for its own filters, so do the same.
                try:
                    return super().get_queryset(request, exclude_parameters)
                except (ValueError, ValidationError) as exc:
                    raise IncorrectLookupParameters(exc) from exc

            def get_ordering_field(self, field_name):
                order_field = super().get_ordering_field(field_name)
                if isinstance(order_field, str) and touches_sensitive_field(
                    model, order_field.lstrip("-"), extra
                ):
                    return None
                return order_field

        return GuardedChangeList


def guard_admin_class(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, SensitiveFieldGuard):
        return admin_class
    return type(
        admin_class.__name__,
        (SensitiveFieldGuard, admin_class),
        {
            "__module__": admin_class.__module__,
            "__doc__": admin_class.__doc__,
        },
    )

"""The audit trail, read-only and tenant-scoped.

Events without a tenant (platform-level actions, e.g. by a superuser outside any
brand) are shown to superusers only: an operator sees exactly the events whose tenant
is one of theirs, so nothing of another brand, nor of the platform, reaches them.
Before/after were redacted when stored (audit.redaction); this page shows them as is.

Fast at a million events: every filter either has fixed choices (actor type, target
type, the operators of the viewer's brands) or reads a bounded window (action), and
filters on an indexed column; the changelist never counts the whole table (the
bounded paginator every tenant-scoped admin has, ``common.admin_pagination``). The export view streams one brand's trail (JSON lines or
CSV) to a superuser or an operator of that brand holding ``audit.export_auditevent``,
and records the export in the trail first.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from audit.export import (
    CONTENT_TYPES,
    FORMATS,
    audit_export_lines,
    audit_export_rows,
    audit_export_start,
)
from audit.models import AuditEvent
from common.actors import Actor
from tenants.admin import TenantFilter, TenantScopedAdmin, is_operator
from tenants.selectors import tenant_ids_for_operator, tenant_list_for_operator

#: The action filter lists the codes seen among this many most recent events, so it
#: never scans the whole table.
ACTION_FILTER_WINDOW = 5000


#: The changelist counts at most this many pages beyond the one shown.
class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        recent = model_admin.get_queryset(request).order_by("-id")[
            :ACTION_FILTER_WINDOW
        ]
        codes = set(recent.values_list("action", flat=True))
        if self.value():
            codes.add(self.value())
        return [(code, code) for code in sorted(codes)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


class ActorUserFilter(admin.SimpleListFilter):
    """Operators of the viewer's brands (a superuser: staff users), never a scan of
    the events; filters on the partial actor_user index."""

    title = "operator"
    parameter_name = "actor_user"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(is_staff=True)
        tenant_ids = tenant_ids_for_operator(user=request.user)
        if tenant_ids is not None:
            users = users.filter(operator_tenants__in=tenant_ids).distinct()
        return [
            (str(user.pk), user.get_username())
            for user in users.order_by("username")[:200]
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(actor_user_id=int(value))


class TargetTypeFilter(admin.SimpleListFilter):
    """Fixed choices: the project's model labels (what ``target_type`` holds)."""

    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        labels = sorted(model._meta.label for model in apps.get_models())
        return [(label, label) for label in labels]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(target_type=self.value())
        return queryset


class InputFilter(admin.SimpleListFilter):
    """A free-text filter (a small form instead of a list of links)."""

    template = "admin/audit/input_filter.html"

    def lookups(self, request, model_admin):
        # Non-empty so Django shows the filter; the template renders an input.
        return [("", "")]

    def choices(self, changelist):
        query = changelist.get_filters_params()
        query.pop(self.parameter_name, None)
        yield {
            # The list without this filter (what generic filter code links to).
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "selected": self.value() is None,
            "display": "All",
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "hidden": [
                (key, value)
                for key, values in query.items()
                for value in (values if isinstance(values, list) else [values])
            ],
        }


class TargetIdFilter(InputFilter):
    title = "target id"
    parameter_name = "target_id"

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(target_id=self.value().strip())
        return queryset


def _day(value: str | None) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class CreatedFromFilter(InputFilter):
    title = "from day (UTC, YYYY-MM-DD)"
    parameter_name = "created_from"

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        day = _day(self.value())
        return queryset.filter(created_at__gte=day) if day else queryset.none()


class CreatedUntilFilter(InputFilter):
    title = "until day (UTC, inclusive)"
    parameter_name = "created_until"

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        day = _day(self.value())
        if day is None:
            return queryset.none()
        return queryset.filter(created_at__lt=day + dt.timedelta(days=1))


class ExportForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=None, empty_label=None)
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS])
    since = forms.DateField(required=False, help_text="UTC day, inclusive.")
    until = forms.DateField(required=False, help_text="UTC day, exclusive.")

    def __init__(self, *args, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    tenant_field = "tenant"
    read_only = True
    show_full_result_count = False
    list_display = [
        "id",
        "seq",
        "created_at",
        "tenant",
        "actor_type",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "reason",
    ]
    list_filter = [
        TenantFilter,
        ActionFilter,
        "actor_type",
        ActorUserFilter,
        TargetTypeFilter,
        TargetIdFilter,
        CreatedFromFilter,
        CreatedUntilFilter,
    ]
    list_select_related = ["tenant"]
    raw_id_fields = ["actor_user"]
    fields = [
        "created_at",
        "tenant",
        "seq",
        "prev_hash",
        "hash",
        "actor_type",
        "actor_label",
        "actor_user",
        "action",
        "target_type",
        "target_id",
        "before_pretty",
        "after_pretty",
        "reason",
        "request_id",
        "ip",
    ]
    readonly_fields = ["before_pretty", "after_pretty"]

    def get_ordering(self, request):
        # With a day range, newest first by created_at: the created_at index then
        # reads just the range, where "-id" would walk the primary key from today
        # back to the range (half a million rows for a range half a year ago).
        if {"created_from", "created_until"} & set(request.GET):
            return ["-created_at", "-id"]
        return super().get_ordering(request)

    @admin.display(description="Before")
    def before_pretty(self, obj: AuditEvent) -> str:
        return _pretty(obj.before)

    @admin.display(description="After")
    def after_pretty(self, obj: AuditEvent) -> str:
        return _pretty(obj.after)

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="audit_auditevent_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_export": self._may_export(request),
        }
        return super().changelist_view(request, extra_context)

    def _may_export(self, request) -> bool:
        user = request.user
        return user.is_superuser or (
            is_operator(user) and user.has_perm("audit.export_auditevent")
        )

    def export_view(self, request):
        """A form (brand, format, days) that streams the brand's trail."""
        if not self._may_export(request):
            raise PermissionDenied
        tenants = tenant_list_for_operator(user=request.user)
        form = ExportForm(
            request.GET if "tenant" in request.GET else None, tenants=tenants
        )
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Export the audit trail",
                "opts": self.model._meta,
                "form": form,
            }
            return TemplateResponse(request, "admin/audit/export.html", context)
        tenant, fmt = form.cleaned_data["tenant"], form.cleaned_data["format"]
        since, until = (
            _day(str(form.cleaned_data[name])) if form.cleaned_data[name] else None
            for name in ("since", "until")
        )
        with transaction.atomic(durable=True):
            audit_export_start(
                actor=Actor.for_user(request.user),
                tenant_id=tenant.pk,
                fmt=fmt,
                since=since,
                until=until,
            )
        rows = audit_export_rows(tenant_id=tenant.pk, since=since, until=until)
        response = StreamingHttpResponse(
            audit_export_lines(rows, fmt=fmt), content_type=CONTENT_TYPES[fmt]
        )
        response["Content-Disposition"] = (
            f'attachment; filename="audit-{tenant.slug}.{fmt}"'
        )
        return response


def _pretty(data) -> str:
    if data is None:
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, sort_keys=True))

"""The audit trail, read-only and tenant-scoped.

Events without a tenant (platform-level actions, e.g. by a superuser outside any
brand) are shown to superusers only: an operator sees exactly the events whose tenant
is one of theirs, so nothing of another brand, nor of the platform, reaches them.
Before/after were redacted when stored (audit.redaction); this page shows them as is.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from audit.models import AuditEvent
from tenants.admin import TenantFilter, TenantScopedAdmin

#: The action filter lists the codes seen among this many most recent events, so it
#: never scans the whole table.
ACTION_FILTER_WINDOW = 5000


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


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    tenant_field = "tenant"
    read_only = True
    list_display = [
        "id",
        "created_at",
        "tenant",
        "actor_type",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "reason",
    ]
    list_filter = [TenantFilter, ActionFilter, "actor_type", "created_at"]
    list_select_related = ["tenant"]
    search_fields = ["=target_id", "=target_type", "=request_id"]
    search_help_text = (
        "Target id and/or type, e.g. 'casino.Player 42'; or a request id."
    )
    raw_id_fields = ["actor_user"]
    fields = [
        "created_at",
        "tenant",
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

    @admin.display(description="Before")
    def before_pretty(self, obj: AuditEvent) -> str:
        return _pretty(obj.before)

    @admin.display(description="After")
    def after_pretty(self, obj: AuditEvent) -> str:
        return _pretty(obj.after)


def _pretty(data) -> str:
    if data is None:
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, sort_keys=True))

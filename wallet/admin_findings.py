"""Reconciliation findings in the admin: a filtered queue, resolve or dismiss with a
mandatory reason (through the audited services). Findings are written only by the
reconciliation commands; nobody adds or edits one by hand."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from common.actors import Actor
from common.admin_filters import fixed_choices_filter
from common.errors import ApplicationError
from tenants.admin import TenantFilter, TenantScopedAdmin, reason_action
from wallet.finding_codes import FINDING_CODES, FINDING_SOURCES
from wallet.models import Finding
from wallet.services import finding_dismiss, finding_resolve

CodeFilter = fixed_choices_filter(
    field="code", title="code", choices=lambda: sorted(FINDING_CODES)
)

SourceFilter = fixed_choices_filter(
    field="source", title="found by", choices=lambda: FINDING_SOURCES
)


@admin.register(Finding)
class FindingAdmin(TenantScopedAdmin):
    list_display = [
        "id",
        "tenant",
        "severity",
        "code",
        "object_type",
        "object_ref",
        "status",
        "times_seen",
        "first_seen_at",
        "last_seen_at",
    ]
    list_filter = [TenantFilter, "status", "severity", CodeFilter, SourceFilter]
    list_select_related = ["tenant"]
    search_fields = ["=object_ref"]
    search_help_text = "The object's reference, e.g. a deposit id or a PSP reference."
    actions = ["resolve_findings", "dismiss_findings"]
    readonly_fields = [
        "tenant",
        "code",
        "severity",
        "source",
        "object_type",
        "object_ref",
        "details_pretty",
        "status",
        "first_seen_at",
        "last_seen_at",
        "times_seen",
        "resolved_at",
        "resolved_by",
        "resolution_reason",
    ]
    fields = readonly_fields

    @admin.display(description="Details")
    def details_pretty(self, obj: Finding) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True)
        )

    def _close(self, request, queryset, *, title: str, close) -> object:
        actor = Actor.for_user(request.user)
        done: list[int] = []

        def apply(finding: Finding, reason: str) -> None:
            try:
                with transaction.atomic(durable=True):
                    close(finding=finding, actor=actor, reason=reason)
            except ApplicationError as error:
                self.report_error(request, error)
                return
            done.append(finding.pk)

        response = reason_action(self, request, queryset, title=title, apply=apply)
        if response is None:
            self.message_user(
                request, f"{title}: {len(done)} finding(s).", level=messages.SUCCESS
            )
        return response

    @admin.action(description="Resolve selected findings (asks for a reason)")
    def resolve_findings(self, request, queryset):
        return self._close(
            request, queryset, title="Resolve findings", close=finding_resolve
        )

    @admin.action(description="Dismiss selected findings (asks for a reason)")
    def dismiss_findings(self, request, queryset):
        return self._close(
            request, queryset, title="Dismiss findings", close=finding_dismiss
        )

"""Settlement imports in the admin: the list of imports, and an upload form that
runs the same import as ``reconcile_psp``. The finance dashboard is registered here
too (``reconciliation/dashboard/``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.actors import Actor
from common.admin_filters import fixed_choices_filter
from common.errors import ApplicationError
from payments.providers.settlement_formats import PARSERS
from reconciliation.dashboard.views import dashboard_csv_view, dashboard_view
from reconciliation.models import SettlementImport
from reconciliation.settlement.importing import settlement_import
from tenants.admin import TenantFilter, TenantScopedAdmin, is_operator
from tenants.selectors import tenant_list_for_operator

ProviderFilter = fixed_choices_filter(
    field="provider", title="provider", choices=lambda: sorted(PARSERS)
)


class SettlementUploadForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=None, help_text="Whose PSP account.")
    provider = forms.ChoiceField(choices=[(name, name) for name in sorted(PARSERS)])
    file = forms.FileField(help_text="The PSP's settlement report, as exported (CSV).")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenant_list_for_operator(user=user)


@admin.register(SettlementImport)
class SettlementImportAdmin(TenantScopedAdmin):
    read_only = True
    change_list_template = "admin/reconciliation/settlementimport/change_list.html"
    list_display = [
        "id",
        "tenant",
        "provider",
        "file_name",
        "status",
        "rows",
        "findings_new",
        "findings_seen_again",
        "duration_ms",
        "started_at",
        "imported_by",
    ]
    list_filter = [TenantFilter, "status", ProviderFilter]
    list_select_related = ["tenant"]
    search_fields = ["=file_sha256", "file_name"]
    fields = [
        "tenant",
        "provider",
        "file_name",
        "file_sha256",
        "file_bytes",
        "status",
        "rows",
        "findings_new",
        "findings_seen_again",
        "summary",
        "error",
        "imported_by",
        "started_at",
        "finished_at",
        "duration_ms",
    ]

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="reconciliation_settlementimport_upload",
            ),
            path(
                "dashboard/",
                self.admin_site.admin_view(dashboard_view),
                name="reconciliation_dashboard",
            ),
            path(
                "dashboard.csv",
                self.admin_site.admin_view(dashboard_csv_view),
                name="reconciliation_dashboard_csv",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not (request.user.is_superuser or is_operator(request.user)):
            return HttpResponseRedirect(reverse("admin:index"))
        form = SettlementUploadForm(
            request.POST or None, request.FILES or None, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = settlement_import(
                    tenant_id=form.cleaned_data["tenant"].pk,
                    provider=form.cleaned_data["provider"],
                    stream=upload.file,
                    file_name=upload.name,
                    actor=Actor.for_user(request.user),
                )
            except ApplicationError as error:
                self.report_error(request, error)
            else:
                record = result.settlement_import
                if result.duplicate:
                    self.message_user(
                        request,
                        "This file was imported before; nothing was done.",
                        level=messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        f"Imported {record.rows} rows: {record.findings_new} new "
                        f"finding(s), {record.findings_seen_again} seen again.",
                        level=messages.SUCCESS,
                    )
                return HttpResponseRedirect(
                    reverse(
                        "admin:reconciliation_settlementimport_change",
                        args=[record.pk],
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a settlement report",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(
            request, "admin/reconciliation/settlementimport/upload.html", context
        )

"""The CRM feature gate of the admin: the same ``tenant_feature_require`` the CRM API
asks, shown as a clear page instead of a JSON error.

An operator whose brands all lack the CRM module gets the refusal page (403) on
every CRM page; a pulled kill switch gives 503. With several brands, the lists show
only the rows of brands where CRM is usable, and another brand's row stays a 404."""

from __future__ import annotations

from django.template.response import TemplateResponse

from common.errors import ApplicationError
from tenants.admin import TenantScopedAdmin
from tenants.features import Feature, tenant_feature_require
from tenants.selectors import tenant_list_for_operator


def crm_refusal(tenants) -> ApplicationError | None:
    """None when CRM is usable on at least one of ``tenants``, else the error of the
    first (killed wins over disabled only if no brand is merely disabled)."""
    errors = []
    for tenant in tenants:
        try:
            tenant_feature_require(tenant=tenant, feature=Feature.CRM)
        except ApplicationError as error:
            errors.append(error)
        else:
            return None
    if not errors:
        return None
    errors.sort(key=lambda error: error.http_status)  # 403 before 503
    return errors[0]


def refusal_response(request, admin_site, error: ApplicationError):
    context = {
        **admin_site.each_context(request),
        "title": "CRM is not available",
        "error": error,
        "feature": error.details.get("feature", "crm"),
    }
    return TemplateResponse(
        request, "admin/feature_refused.html", context, status=error.http_status
    )


def crm_tenant_ids(request) -> list[int]:
    return [
        tenant.pk
        for tenant in tenant_list_for_operator(user=request.user)
        if crm_refusal([tenant]) is None
    ]


class CrmGatedAdmin(TenantScopedAdmin):
    """A CRM model's admin: tenant-scoped, and only where the brand has CRM."""

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(tenant_id__in=crm_tenant_ids(request))
        )

    def _gate(self, request, object_id=None):
        if object_id is not None:
            tenant_id = (
                TenantScopedAdmin.get_queryset(self, request)
                .filter(pk=object_id if str(object_id).isdigit() else None)
                .values_list("tenant_id", flat=True)
                .first()
            )
            if tenant_id is None:
                return None  # the normal view answers 404
            tenants = tenant_list_for_operator(user=request.user).filter(pk=tenant_id)
        else:
            tenants = tenant_list_for_operator(user=request.user)
        error = crm_refusal(list(tenants))
        return refusal_response(request, self.admin_site, error) if error else None

    def has_delete_permission(self, request, obj=None):
        # CRM history is kept: a deleted tag would drop players' tags without a
        # trace, a deleted note its revisions. Nothing here is deleted in the admin.
        return False

    def changelist_view(self, request, extra_context=None):
        return self._gate(request) or super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._gate(request, object_id) or super().changeform_view(
            request, object_id, form_url, extra_context
        )

    def history_view(self, request, object_id, extra_context=None):
        return self._gate(request, object_id) or super().history_view(
            request, object_id, extra_context
        )

    def delete_view(self, request, object_id, extra_context=None):
        return self._gate(request, object_id) or super().delete_view(
            request, object_id, extra_context
        )

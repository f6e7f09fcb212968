"""The admin reads as this product: its name and the operator's brand in the header,
and an index that starts with what needs attention today."""

from __future__ import annotations

from django.conf import settings

from casino.admin_site import OperatorAdminSite
from common.currency import format_money
from crm.selectors import attention_today
from tenants.selectors import tenant_ids_for_operator, tenant_list_for_operator


class BackOfficeAdminSite(OperatorAdminSite):
    """The operators' site (second factor, lookup guards) reading as the product."""

    index_template = "admin/backoffice_index.html"
    index_title = "Today"

    def each_context(self, request):
        context = super().each_context(request)
        product = settings.ADMIN_PRODUCT_NAME
        brands = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_active and user.is_staff:
            if user.is_superuser:
                brands = "all brands"
            else:
                brands = ", ".join(
                    tenant_list_for_operator(user=user).values_list("name", flat=True)
                )
        context["site_header"] = f"{product} · {brands}" if brands else product
        context["site_title"] = product
        context["brand_names"] = brands
        return context

    def index(self, request, extra_context=None):
        attention = attention_today(
            tenant_ids=tenant_ids_for_operator(user=request.user)
        )
        oldest = attention.oldest_withdrawal
        extra = {
            "attention": attention,
            "oldest_withdrawal_amount": (
                format_money(oldest.amount_minor, oldest.currency) if oldest else ""
            ),
            **(extra_context or {}),
        }
        return super().index(request, extra)

"""Operator scoping for the Django admin.

Every admin of a tenant-owned model derives from ``TenantScopedAdmin``: the changelist
shows only the operator's tenants, a change page of another tenant's row is a 404,
foreign-key choices are narrowed to the operator's tenants, and what an operator may
do is declared on the class. A superuser sees and may do everything Django allows."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.forms.fields import InvalidJSONInput
from django.http import Http404
from django.template.response import TemplateResponse

from audit.services import audit_record, model_snapshot
from common.actors import Actor
from common.admin_pagination import BoundedCountAdminMixin
from common.currency import ISO_EXPONENTS, to_major, to_minor
from common.errors import ApplicationError
from common.text import reject_control_characters_multiline
from tenants.features import tenant_features_init
from tenants.models import Operator, Tenant, TenantDomain, TenantPolicy
from tenants.selectors import tenant_ids_for_operator, tenant_list_for_operator
from tenants.services import tenant_policy_changed, tenant_policy_get


def is_operator(user) -> bool:
    return bool(user.is_active and user.is_staff)


class TenantScopedAdmin(BoundedCountAdminMixin, admin.ModelAdmin):
    #: ORM path from this model to its Tenant ("" when the model *is* Tenant).
    tenant_field: str = "tenant"
    #: What a (non-superuser) operator may do, beyond viewing their tenants' rows.
    operator_can_add = False
    operator_can_change = False
    operator_can_delete = False
    #: Ledger-style models: nobody, not even a superuser, adds, changes or deletes.
    read_only = False

    # Never a COUNT over all matching rows, nor facet counts: the changelist counts
    # at most a window past the page shown (BoundedCountAdminMixin).
    show_full_result_count = False

    def _tenant_lookup(self) -> str:
        return f"{self.tenant_field}__in" if self.tenant_field else "pk__in"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        tenant_ids = tenant_ids_for_operator(user=request.user)
        if tenant_ids is None:
            return queryset
        return queryset.filter(**{self._tenant_lookup(): tenant_ids})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another tenant's row is indistinguishable from a missing one.
            raise Http404("Not found")
        return obj

    def _operator_may(self, request, allowed: bool) -> bool:
        if self.read_only:
            return False
        if request.user.is_superuser:
            return True
        return allowed and is_operator(request.user)

    def has_module_permission(self, request):
        return request.user.is_superuser or is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_operator(request.user)

    def has_add_permission(self, request, *args):
        return self._operator_may(request, self.operator_can_add)

    def has_change_permission(self, request, obj=None):
        return self._operator_may(request, self.operator_can_change)

    def has_delete_permission(self, request, obj=None):
        return self._operator_may(request, self.operator_can_delete)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        tenant_ids = tenant_ids_for_operator(user=request.user)
        if tenant_ids is not None:
            related = db_field.related_model
            if related is Tenant:
                kwargs["queryset"] = Tenant.objects.filter(pk__in=tenant_ids)
            elif any(f.name == "tenant" for f in related._meta.fields):
                kwargs["queryset"] = related._default_manager.filter(
                    tenant_id__in=tenant_ids
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def report_error(self, request, error: ApplicationError) -> None:
        """Show a domain error to the operator the way the API would name it."""
        self.message_user(
            request, f"{error.code}: {error.message}", level=messages.ERROR
        )


class TenantFilter(admin.SimpleListFilter):
    """The tenant filter of a scoped changelist: lists only the operator's tenants
    (Django's default FK filter would list every brand's name) and costs no scan."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        return [
            (str(t.pk), t.name)
            for t in tenant_list_for_operator(user=request.user).only("pk", "name")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit()):
            return queryset.none()
        field = getattr(self.model_admin, "tenant_field", "tenant")
        return queryset.filter(**{field or "pk": int(value)})

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


class CurrencyFilter(admin.SimpleListFilter):
    """Currencies of the operator's tenants, without a DISTINCT over a large table."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        codes: set[str] = set()
        for tenant in tenant_list_for_operator(user=request.user):
            codes.add(tenant.default_currency)
            codes.update(tenant.allowed_currencies or [])
        return [(code, code) for code in sorted(codes)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency=self.value().upper())
        return queryset


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Mandatory; stored in the audit trail.",
        validators=[reject_control_characters_multiline],
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def reason_action(modeladmin, request, queryset, *, title: str, apply) -> object:
    """An admin action that first asks for a mandatory reason on an intermediate page.

    ``apply(obj, reason)`` runs once per selected row (the queryset is the scoped
    changelist's, so only the operator's tenants' rows are reachable). Returning None
    sends Django back to the changelist."""
    form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_bound and form.is_valid():
        for obj in queryset:
            apply(obj, form.cleaned_data["reason"])
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "admin/reason_action.html", context)


class ScopedInline(admin.StackedInline):
    """Inlines follow their parent admin's permissions."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_operator(request.user)

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class MoneyMapField(forms.JSONField):
    """A per-currency amount map typed and shown in major units
    (``{"EUR": "1000.00"}``) and stored in minor units (``{"EUR": 100000}``), so
    operators never read or type minor units. Conversion by the currency's exponent
    (``common.currency``); the model's own ``clean`` still checks what is stored."""

    def prepare_value(self, value):
        if isinstance(value, dict):
            value = {
                currency: to_major(amount, currency)
                if type(amount) is int and currency in ISO_EXPONENTS
                else amount
                for currency, amount in value.items()
            }
        return super().prepare_value(value)

    def bound_data(self, data, initial):
        # Redisplay what the operator typed, as typed (major units).
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        return InvalidJSONInput(data)

    def to_python(self, value):
        parsed = super().to_python(value)
        if not isinstance(parsed, dict):
            return parsed
        minor: dict[str, int] = {}
        for currency, amount in parsed.items():
            if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
                raise forms.ValidationError(
                    f'{currency}: {amount!r} is not an amount such as "1000.00".'
                )
            try:
                minor[currency] = to_minor(str(amount), currency)
            except ApplicationError as error:
                raise forms.ValidationError(f"{currency}: {error.message}") from None
            if minor[currency] < 0:
                raise forms.ValidationError(f"{currency}: {amount} is below zero.")
        return minor


class TenantPolicyForm(forms.ModelForm):
    _help = 'In major units, e.g. {"EUR": "1000.00"}; a currency left out has no '
    daily_deposit_limits = MoneyMapField(
        required=False, help_text=f"Per player per UTC day. {_help}limit."
    )
    daily_withdrawal_limits = MoneyMapField(
        required=False, help_text=f"Per player per UTC day. {_help}limit."
    )
    withdrawal_min_amounts = MoneyMapField(required=False, help_text=f"{_help}minimum.")
    withdrawal_max_amounts = MoneyMapField(required=False, help_text=f"{_help}maximum.")
    auto_approve_thresholds = MoneyMapField(
        required=False,
        help_text="Withdrawals strictly below this amount are approved without "
        'review; in major units, e.g. {"EUR": "50.00"}. A currency left out always '
        "goes to manual review.",
    )
    aml_cdd_thresholds = MoneyMapField(
        required=False,
        help_text="Customer due diligence: cumulative deposits in the window reaching "
        'this raise a flag; in major units, e.g. {"EUR": "2000.00"} (the default).',
    )
    affordability_thresholds = MoneyMapField(
        required=False,
        help_text="Net deposits (deposits minus paid withdrawals) over a rolling 30 "
        'days reaching this raise an affordability flag; e.g. {"GBP": "150.00"}.',
    )
    maker_checker_thresholds = MoneyMapField(
        required=False,
        help_text="Withdrawals strictly above this amount need a second operator's "
        'approval; in major units, e.g. {"EUR": "5000.00"} (the default).',
    )

    class Meta:
        model = TenantPolicy
        # Every policy field, as the inline showed before this form; which of them
        # an operator may change is the admin's permission, not the form's.
        fields = "__all__"  # noqa: DJ007


class TenantPolicyInline(ScopedInline):
    model = TenantPolicy
    form = TenantPolicyForm
    can_delete = False


class TenantDomainInline(admin.TabularInline):
    model = TenantDomain
    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_operator(request.user)

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = ""
    operator_can_change = True  # their policy; brand identity stays superuser-only
    list_display = ["slug", "name", "status", "default_currency", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    inlines = [TenantPolicyInline, TenantDomainInline]
    filter_horizontal = ["operators"]

    def has_delete_permission(self, request, obj=None):
        # A brand is suspended, never deleted: PostgreSQL refuses it (the
        # tenant_no_delete trigger; the ledger references tenants without a
        # foreign key, see docs/ledger.md), and its history is kept for ever.
        return False

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["created_at"]
        return [
            "slug",
            "name",
            "status",
            "default_currency",
            "allowed_currencies",
            "operators",
            "operator",
            "created_at",
        ]

    def save_model(self, request, obj, form, change):
        """Brand edits (superuser only) are audited like every other operator action."""
        before = (
            model_snapshot(Tenant.objects.get(pk=obj.pk)) if change and obj.pk else None
        )
        # Operator membership is saved later (save_related); remember it for the audit.
        obj._operators_before = (
            sorted(obj.operators.values_list("username", flat=True)) if change else []
        )
        super().save_model(request, obj, form, change)
        after = model_snapshot(obj)
        if before is not None:
            changed = {k: v for k, v in after.items() if before.get(k) != v}
            if not changed:
                return
            before = {k: before.get(k) for k in changed}
            after = changed
        audit_record(
            actor=Actor.for_user(request.user),
            action="tenant.updated" if change else "tenant.created",
            tenant_id=obj.pk,
            target=obj,
            before=before,
            after=after,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        tenant = form.instance
        # A brand added here gets its policy even when the inline was left untouched,
        # and its feature flag rows at their defaults.
        tenant_policy_get(tenant=tenant)
        tenant_features_init(tenant=tenant)
        before = getattr(tenant, "_operators_before", [])
        after = sorted(tenant.operators.values_list("username", flat=True))
        if before != after:
            audit_record(
                actor=Actor.for_user(request.user),
                action="tenant.operators_changed",
                tenant_id=tenant.pk,
                target=tenant,
                before={"operators": before},
                after={"operators": after},
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not TenantPolicy:
            return super().save_formset(request, form, formset, change)
        befores = {
            policy.pk: model_snapshot(policy)
            for policy in TenantPolicy.objects.filter(
                pk__in=[f.instance.pk for f in formset.forms if f.instance.pk]
            )
        }
        super().save_formset(request, form, formset, change)
        for policy_form in formset.forms:
            policy = policy_form.instance
            if policy.pk in befores:
                tenant_policy_changed(
                    actor=Actor.for_user(request.user),
                    policy=policy,
                    before=befores[policy.pk],
                )


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    """The licensee behind brands (issue 13): platform staff only, audited."""

    list_display = ["slug", "name", "exclusion_covers_all_brands"]
    search_fields = ["slug", "name"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = model_snapshot(Operator.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=Actor.for_user(request.user),
            action="operator.updated" if change else "operator.created",
            tenant_id=None,
            target=obj,
            before=before,
            after=model_snapshot(obj),
        )


# Django's own user and group admins, with the same bounded changelist count.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class OperatorUserAdmin(BoundedCountAdminMixin, UserAdmin):
    pass


@admin.register(Group)
class OperatorGroupAdmin(BoundedCountAdminMixin, GroupAdmin):
    pass

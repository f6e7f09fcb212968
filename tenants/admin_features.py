"""Feature flags, kill switches and API keys of a brand in the admin.

Flag edits go through ``tenant_feature_set`` (audited, cache dropped on commit). A
platform superuser decides which modules a brand has; a brand's operators may pull or
release a kill switch of their own brand, nothing else. API keys are created here and
their raw value is shown once, on the page that answers the creation (never stored,
never put in a message cookie); revoking asks for a reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import transaction
from django.template.response import TemplateResponse

from common.actors import Actor
from tenants.admin import TenantFilter, TenantScopedAdmin, reason_action
from tenants.api_keys import SCOPES, api_key_create, api_key_revoke
from tenants.features import tenant_feature_set
from tenants.models import ApiKey, TenantFeature


@admin.register(TenantFeature)
class TenantFeatureAdmin(TenantScopedAdmin):
    operator_can_change = True  # the kill switch only (get_readonly_fields)
    list_display = ["tenant", "feature", "enabled", "killed", "updated_at"]
    list_filter = [TenantFilter, "feature", "enabled", "killed"]
    list_select_related = ["tenant"]
    fields = ["tenant", "feature", "enabled", "killed", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["tenant", "feature", "updated_at"] if obj else ["updated_at"]
        return ["tenant", "feature", "enabled", "updated_at"]

    def save_model(self, request, obj, form, change):
        row = tenant_feature_set(
            actor=Actor.for_user(request.user),
            tenant=obj.tenant,
            feature=obj.feature,
            enabled=obj.enabled,
            killed=obj.killed,
        )
        obj.pk = row.pk


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {text}") for scope, text in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    operator_can_add = True
    form = ApiKeyForm
    list_display = [
        "name",
        "tenant",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [TenantFilter]
    list_select_related = ["tenant"]
    search_fields = ["=prefix", "name"]
    actions = ["revoke_keys"]
    readonly_fields = [
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "scopes"]
        return ["tenant", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "name", *self.readonly_fields] if obj else []

    def save_model(self, request, obj, form, change):
        key, raw = api_key_create(
            actor=Actor.for_user(request.user),
            tenant=obj.tenant,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
        )
        obj.pk = key.pk
        obj.prefix = key.prefix
        obj._raw_key = raw

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {obj.name!r} created",
            "opts": self.model._meta,
            "key": obj,
            "raw_key": obj._raw_key,
        }
        response = TemplateResponse(
            request, "admin/tenants/apikey/created.html", context
        )
        response["Cache-Control"] = "no-store"  # the raw key must not be cached
        return response

    @admin.action(description="Revoke selected keys (asks for a reason)")
    def revoke_keys(self, request, queryset):
        actor = Actor.for_user(request.user)

        def apply(key: ApiKey, reason: str) -> None:
            with transaction.atomic(durable=True):
                api_key_revoke(actor=actor, key=key, reason=reason)

        return reason_action(
            self, request, queryset, title="Revoke API keys", apply=apply
        )

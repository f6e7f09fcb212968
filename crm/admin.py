"""CRM pages of the admin. The player admin (the player 360) reads casino, wallet and
payments, so it lives in crm, the app allowed to read all three; importing
admin_players here registers it."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html_join

from common.actors import Actor
from common.errors import ApplicationError
from crm import (
    admin_players,  # noqa: F401
    services,
)
from crm.admin_gate import CrmGatedAdmin
from crm.models import (
    Campaign,
    CampaignSend,
    Note,
    NoteRevision,
    Segment,
    Tag,
)
from crm.segments import RULE_KEYS, segment_rules_parse
from crm.selectors import campaign_send_counts
from crm.services.campaigns import campaign_templates_compile
from tenants.admin import TenantFilter


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


@admin.register(Tag)
class TagAdmin(CrmGatedAdmin):
    operator_can_add = True
    operator_can_change = True
    list_display = ["name", "tenant", "description", "created_at"]
    list_filter = [TenantFilter]
    search_fields = ["name"]
    fields = ["tenant", "name", "description"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "name"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            services.tag_update(
                actor=_actor(request), tag=obj, description=obj.description
            )
            return
        created = services.tag_create(
            actor=_actor(request),
            tenant=obj.tenant,
            name=obj.name,
            description=obj.description,
        )
        obj.pk = created.pk


class NoteRevisionInline(admin.TabularInline):
    model = NoteRevision
    extra = 0
    fields = ["edited_at", "edited_by", "pinned", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["tenant", "player", "body", "pinned"]

    def clean(self):
        cleaned = super().clean()
        tenant, player = cleaned.get("tenant"), cleaned.get("player")
        if tenant and player and player.tenant_id != tenant.pk:
            self.add_error("player", "This player is not of the chosen brand.")
        return cleaned


@admin.register(Note)
class NoteAdmin(CrmGatedAdmin):
    """Notes are edited through note_update, which keeps every previous version."""

    operator_can_add = True
    operator_can_change = True
    form = NoteForm
    list_display = [
        "id",
        "player",
        "author_label",
        "pinned",
        "created_at",
        "updated_at",
    ]
    list_filter = [TenantFilter, "pinned"]
    list_select_related = ["player"]
    search_fields = ["=player__id"]
    raw_id_fields = ["player"]
    inlines = [NoteRevisionInline]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "player", "author_label", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            services.note_update(
                actor=_actor(request), note=obj, body=obj.body, pinned=obj.pinned
            )
            return
        note = services.note_create(
            actor=_actor(request),
            player=obj.player,
            body=obj.body,
            pinned=obj.pinned,
            author=request.user,
        )
        obj.pk = note.pk

    def save_related(self, request, form, formsets, change):
        pass  # revisions are written by the service, never by the form


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["tenant", "name", "description", "rules"]
        help_texts = {
            "rules": "A JSON object; all given rules must hold. Keys: "
            + ", ".join(RULE_KEYS)
            + ' (docs/crm.md). Example: {"country_in": ["DE"], "kyc_status_in": '
            '["verified"], "deposits_in_last_days": {"days": 30, "currency": "EUR", '
            '"at_least": "100.00"}}'
        }

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        try:
            segment_rules_parse(rules)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error
        return rules


@admin.register(Segment)
class SegmentAdmin(CrmGatedAdmin):
    operator_can_add = True
    operator_can_change = True
    form = SegmentForm
    list_display = ["name", "tenant", "member_count", "refreshed_at"]
    list_filter = [TenantFilter]
    search_fields = ["name"]
    readonly_fields = ["member_count", "refreshed_at"]
    actions = ["refresh_members"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "member_count", "refreshed_at"] if obj else []

    def save_model(self, request, obj, form, change):
        actor = _actor(request)
        if change:
            services.segment_update(
                actor=actor,
                segment=obj,
                name=obj.name,
                rules=obj.rules,
                description=obj.description,
            )
            return
        segment = services.segment_create(
            actor=actor,
            tenant=obj.tenant,
            name=obj.name,
            rules=obj.rules,
            description=obj.description,
        )
        obj.pk = segment.pk

    @admin.action(
        description="Refresh membership now (the same as crm_refresh_segments)"
    )
    def refresh_members(self, request, queryset):
        for segment in queryset:
            with transaction.atomic(durable=True):
                result = services.segment_refresh(segment=segment)
            self.message_user(
                request,
                f"{segment.name}: {result.member_count} members "
                f"(+{result.added}, -{result.removed}).",
            )


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "tenant",
            "name",
            "segment",
            "from_email",
            "subject_template",
            "body_template",
        ]

    def clean(self):
        cleaned = super().clean()
        tenant, segment = cleaned.get("tenant"), cleaned.get("segment")
        if tenant and segment and segment.tenant_id != tenant.pk:
            self.add_error("segment", "This segment is not of the chosen brand.")
        try:
            campaign_templates_compile(
                cleaned.get("subject_template") or "",
                cleaned.get("body_template") or "",
            )
        except ApplicationError as error:
            self.add_error("body_template", error.message)
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(CrmGatedAdmin):
    operator_can_add = True
    list_display = ["name", "tenant", "segment", "created_by", "last_run_at"]
    list_filter = [TenantFilter]
    list_select_related = ["tenant", "segment"]
    search_fields = ["name"]
    fields = [
        "tenant",
        "name",
        "segment",
        "from_email",
        "subject_template",
        "body_template",
        "send_counts",
    ]
    readonly_fields = ["send_counts"]
    actions = ["send_now"]

    @admin.display(description="Sends so far")
    def send_counts(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        counts = campaign_send_counts(campaign=obj)
        return (
            format_html_join(
                ", ",
                "{}: {}",
                ((CampaignSend.Status(s).label, n) for s, n in counts.items() if n),
            )
            or "none yet"
        )

    form = CampaignForm

    def save_model(self, request, obj, form, change):
        campaign = services.campaign_create(
            actor=_actor(request),
            segment=obj.segment,
            name=obj.name,
            subject_template=obj.subject_template,
            body_template=obj.body_template,
            from_email=obj.from_email,
        )
        obj.pk = campaign.pk

    @admin.action(
        description="Send now (mails nobody twice; large segments: the command)"
    )
    def send_now(self, request, queryset):
        for campaign in queryset.select_related("segment", "tenant"):
            try:
                result = services.campaign_send(
                    actor=_actor(request), campaign=campaign
                )
            except ApplicationError as error:
                self.report_error(request, error)
                continue
            summary = ", ".join(f"{k}: {v}" for k, v in sorted(result.counts.items()))
            self.message_user(
                request, f"{campaign.name}: {summary}.", level=messages.SUCCESS
            )


@admin.register(CampaignSend)
class CampaignSendAdmin(CrmGatedAdmin):
    read_only = True
    list_display = ["id", "campaign", "player", "email", "status", "updated_at"]
    list_filter = [TenantFilter, "status"]
    list_select_related = ["campaign", "player"]
    search_fields = ["=player__id", "=campaign__id"]
    raw_id_fields = ["campaign", "player"]

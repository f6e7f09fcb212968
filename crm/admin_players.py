"""Players in the admin: the player 360. Who the player is and where their money is
(balances, holds, deposits, withdrawals, refunds, disputes, limits and flags), the
CRM panel (tags, pinned notes, consent, segments) and one chronological timeline;
audited status and KYC changes, manual adjustments through the ledger service, and
CRM edits through the CRM services. The CRM panel and its forms follow the brand's
CRM feature flag (crm/admin_gate.py)."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Lower
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from casino.models import Player
from casino.services import (
    player_set_kyc_status,
    player_set_status,
    player_set_verified_name,
)
from common.actors import Actor
from common.currency import format_money, to_minor
from common.dberrors import atomic_action
from common.errors import ApplicationError, ValidationFailed
from crm import services as crm_services
from crm.admin_gate import crm_refusal, refusal_response
from crm.models import Consent, Note, Tag
from crm.player_360 import crm_panel, limits_and_flags, money_records
from tenants.admin import TenantFilter, TenantScopedAdmin, is_operator, reason_action
from wallet.admin_compliance import player_protection_html
from wallet.models import Hold
from wallet.selectors import balance_list, player_entry_list
from wallet.services import adjustment_create

RECENT_LEDGER_LINES = 20
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class PlayerChangeForm(forms.ModelForm):
    change_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Mandatory when you change the status or the KYC status; it goes "
        "to the audit trail.",
    )

    class Meta:
        model = Player
        fields = ["status", "kyc_status", "verified_name"]

    def clean(self):
        cleaned = super().clean()
        changed = {"status", "kyc_status", "verified_name"} & set(self.changed_data)
        if changed and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", "A reason is required for this change.")
        return cleaned


class AdjustmentForm(forms.Form):
    DIRECTIONS = [("credit", "Credit (add to the player)"), ("debit", "Debit (take)")]

    direction = forms.ChoiceField(choices=DIRECTIONS)
    currency = forms.ChoiceField()
    amount = forms.DecimalField(
        min_value=0,
        max_digits=18,
        decimal_places=3,
        help_text="In major units, e.g. 12.50",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if not _TOKEN.match(token):
            raise forms.ValidationError("Reload the form and try again.")
        return token

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("The amount must be positive.")
        return amount


def tenant_currencies(tenant) -> list[str]:
    return list(
        dict.fromkeys([tenant.default_currency, *(tenant.allowed_currencies or [])])
    )


@admin.register(Player)
class PlayerAdmin(TenantScopedAdmin):
    operator_can_change = True  # status and KYC only, through audited services
    form = PlayerChangeForm
    change_form_template = "admin/casino/player/change_form.html"
    list_display = [
        "id",
        "email",
        "tenant",
        "country",
        "status",
        "kyc_status",
        "created_at",
    ]
    list_filter = [TenantFilter, "status", "kyc_status", "created_at"]
    list_select_related = ["tenant"]
    search_fields = ["=id", "email"]  # see get_search_results
    search_help_text = "A player id, a full email, or the start of an email."
    ordering = ["-id"]
    actions = ["block_players", "unblock_players", "adjust_balance"]
    readonly_fields = [
        "email",
        "display_name",
        "tenant",
        "withdrawals_frozen",
        "created_at",
        "country",
        "last_login_at",
        "balances",
        "pending_holds",
        "payments",
        "limits",
        "recent_ledger",
        "player_protection",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "email",
                    "display_name",
                    "tenant",
                    "country",
                    "created_at",
                    "last_login_at",
                ]
            },
        ),
        ("Where is this player's money?", {"fields": ["balances", "pending_holds"]}),
        ("Deposits, withdrawals, refunds and disputes", {"fields": ["payments"]}),
        ("Limits and policy flags", {"fields": ["limits"]}),
        ("Recent ledger lines", {"fields": ["recent_ledger"]}),
        (
            "Status (changes are audited)",
            {
                "fields": [
                    "status",
                    "kyc_status",
                    "verified_name",
                    "withdrawals_frozen",
                    "change_reason",
                ]
            },
        ),
        # Issue 13: read-only; only the player sets limits and exclusions.
        ("Player protection and AML", {"fields": ["player_protection"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        """A number is a player id; a full email matches through the unique
        (tenant, lower(email)) index; anything else is an email prefix."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        if "@" in term:
            return queryset.alias(email_lower=Lower("email")).filter(
                email_lower=term.lower()
            ), False
        return queryset.filter(email__istartswith=term), False

    def has_add_permission(self, request, *args):
        return False  # players register through the API (casino.services)

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger keeps a player's history forever

    # --- the money screen ----------------------------------------------------------

    @admin.display(description="Balances")
    def balances(self, obj: Player) -> str:
        rows = [
            {
                "currency": b.currency,
                "available": format_money(b.available_minor, b.currency),
                "held": format_money(b.held_minor, b.currency),
                "total": format_money(b.total_minor, b.currency),
            }
            for b in balance_list(player=obj)
        ]
        adjust_url = reverse("admin:casino_player_adjust", args=[obj.pk])
        return render_to_string(
            "admin/casino/player/balances.html",
            {"rows": rows, "adjust_url": adjust_url},
        )

    @admin.display(description="Pending holds")
    def pending_holds(self, obj: Player) -> str:
        holds = Hold.objects.filter(
            tenant_id=obj.tenant_id, player=obj, state=Hold.State.PENDING
        ).order_by("-id")
        rows = [
            {
                "id": h.pk,
                "url": reverse("admin:wallet_hold_change", args=[h.pk]),
                "amount": format_money(h.amount_minor, h.currency),
                "reference": h.reference,
                "created_at": h.created_at,
            }
            for h in holds
        ]
        return render_to_string("admin/casino/player/holds.html", {"rows": rows})

    @admin.display(description="Most recent")
    def payments(self, obj: Player) -> str:
        return render_to_string(
            "admin/casino/player/payments.html", money_records(player=obj)
        )

    @admin.display(description="Limits and flags")
    def limits(self, obj: Player) -> str:
        return render_to_string(
            "admin/casino/player/limits.html", {"rows": limits_and_flags(player=obj)}
        )

    @admin.display(description="Most recent lines")
    def recent_ledger(self, obj: Player) -> str:
        entries = player_entry_list(player=obj).select_related(
            "transaction", "account"
        )[:RECENT_LEDGER_LINES]
        rows = [
            {
                "transaction_url": reverse(
                    "admin:wallet_journaltransaction_change",
                    args=[e.transaction_id],
                ),
                "transaction_id": e.transaction_id,
                "kind": e.transaction.get_kind_display(),
                "bucket": "held" if e.account.kind == "player_held" else "available",
                "amount": format_money(e.amount_minor, e.currency),
                "balance_after": format_money(e.balance_after_minor, e.currency),
                "reference": e.transaction.reference,
                "actor": e.transaction.actor_label,
                "created_at": e.created_at,
            }
            for e in entries
        ]
        ledger_url = (
            reverse("admin:wallet_entry_changelist")
            + f"?account__player__id__exact={obj.pk}"
        )
        return render_to_string(
            "admin/casino/player/ledger.html", {"rows": rows, "ledger_url": ledger_url}
        )

    @admin.display(description="Limits, exclusions, risk flags")
    def player_protection(self, obj: Player) -> str:
        return player_protection_html(obj)

    # --- audited changes -----------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Never ``obj.save()``: each change goes through its audited service."""
        actor = Actor.for_user(request.user)
        reason = form.cleaned_data.get("change_reason", "").strip()
        if "status" in form.changed_data:
            player_set_status(actor=actor, player=obj, status=obj.status, reason=reason)
        if "kyc_status" in form.changed_data:
            player_set_kyc_status(
                actor=actor, player=obj, kyc_status=obj.kyc_status, reason=reason
            )
        if "verified_name" in form.changed_data:
            player_set_verified_name(
                actor=actor, player=obj, verified_name=obj.verified_name, reason=reason
            )

    def _set_status(self, request, queryset, status: str, title: str):
        actor = Actor.for_user(request.user)
        done: list[int] = []

        def apply(player: Player, reason: str) -> None:
            if player.status == status:
                return
            with atomic_action():
                player_set_status(
                    actor=actor, player=player, status=status, reason=reason
                )
            done.append(player.pk)

        response = reason_action(self, request, queryset, title=title, apply=apply)
        if response is None:
            self.message_user(request, f"{title}: {len(done)} player(s) changed.")
        return response

    @admin.action(description="Block selected players (asks for a reason)")
    def block_players(self, request, queryset):
        return self._set_status(request, queryset, Player.Status.BLOCKED, "Block")

    @admin.action(description="Unblock selected players (asks for a reason)")
    def unblock_players(self, request, queryset):
        return self._set_status(request, queryset, Player.Status.ACTIVE, "Unblock")

    # --- manual adjustment ---------------------------------------------------------

    @admin.action(description="Manual adjustment (credit or debit) of one player")
    def adjust_balance(self, request, queryset):
        players = list(queryset[:2])
        if len(players) != 1:
            self.message_user(
                request, "Select exactly one player to adjust.", level=messages.WARNING
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:casino_player_adjust", args=[players[0].pk])
        )

    def has_adjust_permission(self, request) -> bool:
        return request.user.is_superuser or is_operator(request.user)

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="casino_player_adjust",
            ),
            path(
                "<path:object_id>/crm/<str:operation>/",
                self.admin_site.admin_view(self.crm_view),
                name="casino_player_crm",
            ),
        ]
        return urls + super().get_urls()

    # --- the CRM panel and timeline --------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        player = self.get_object(request, object_id)  # 404 outside their brands
        refusal = crm_refusal([player.tenant])
        extra = {"crm_refusal": refusal}
        if refusal is None:
            extra["crm"] = crm_panel(
                player=player,
                cursor=request.GET.get("timeline_cursor") or None,
                kind=request.GET.get("timeline_kind") or None,
            )
            extra["consent_channels"] = Consent.Channel.choices
        return super().change_view(
            request, object_id, form_url, {**extra, **(extra_context or {})}
        )

    def crm_view(self, request, object_id, operation):
        """One POST per CRM edit on the player page, through the CRM services."""
        player = self.get_object(request, object_id)
        if request.method != "POST" or not self.has_adjust_permission(request):
            raise PermissionDenied
        refusal = crm_refusal([player.tenant])
        if refusal is not None:
            return refusal_response(request, self.admin_site, refusal)
        actor = Actor.for_user(request.user)
        data = request.POST
        try:
            with atomic_action():
                self._crm_apply(request, actor, player, operation, data)
        except ApplicationError as error:
            self.report_error(request, error)
        return HttpResponseRedirect(
            reverse("admin:casino_player_change", args=[player.pk]) + "#crm"
        )

    def _crm_apply(self, request, actor, player: Player, operation: str, data) -> None:
        def own(model, field: str):
            value = data.get(field, "")
            row = (
                model.objects.filter(tenant_id=player.tenant_id, pk=int(value)).first()
                if value.isdigit()
                else None
            )
            if row is None:
                raise ValidationFailed(f"Choose a {model._meta.verbose_name}.")
            return row

        if operation == "note":
            crm_services.note_create(
                actor=actor,
                player=player,
                body=data.get("body", ""),
                pinned=data.get("pinned") == "on",
                author=request.user,
            )
        elif operation == "pin":
            note = own(Note, "note")
            if note.player_id != player.pk:
                raise ValidationFailed("This note is not of this player.")
            crm_services.note_update(
                actor=actor, note=note, pinned=data.get("pinned") == "on"
            )
        elif operation == "tag":
            crm_services.player_tag_add(actor=actor, player=player, tag=own(Tag, "tag"))
        elif operation == "untag":
            crm_services.player_tag_remove(
                actor=actor, player=player, tag=own(Tag, "tag")
            )
        elif operation == "consent":
            crm_services.consent_set(
                actor=actor,
                player=player,
                channel=data.get("channel", ""),
                granted=data.get("granted") == "yes",
                source=data.get("source", ""),
            )
        else:
            raise ValidationFailed(f"Unknown CRM operation {operation!r}.")
        self.message_user(request, "Saved.")

    def adjust_view(self, request, object_id):
        """An intermediate form page. The idempotency key is made once, when the form
        is rendered, and travels in a hidden field: a double submit posts once."""
        player = self.get_object(
            request, object_id
        )  # 404 outside the operator's tenants
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        currencies = tenant_currencies(player.tenant)
        change_url = reverse("admin:casino_player_change", args=[player.pk])
        if request.method == "POST":
            form = AdjustmentForm(request.POST, currencies=currencies)
            if form.is_valid():
                response = self._adjust(request, player, form.cleaned_data)
                if response is not None:
                    return response
        else:
            form = AdjustmentForm(
                currencies=currencies, initial={"token": uuid.uuid4().hex}
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Manual adjustment for {player.email}",
            "opts": self.model._meta,
            "original": player,
            "form": form,
            "change_url": change_url,
            "balances": [
                (b.currency, format_money(b.available_minor, b.currency))
                for b in balance_list(player=player)
            ],
        }
        return TemplateResponse(request, "admin/casino/player/adjust.html", context)

    def _adjust(self, request, player: Player, data) -> HttpResponseRedirect | None:
        currency = data["currency"]
        try:
            amount_minor = to_minor(data["amount"], currency)
            if data["direction"] == "debit":
                amount_minor = -amount_minor
            with atomic_action():
                result = adjustment_create(
                    actor=Actor.for_user(request.user),
                    player=player,
                    currency=currency,
                    amount_minor=amount_minor,
                    reason=data["reason"],
                    idempotency_key=f"admin-adjustment:{player.pk}:{data['token']}",
                )
        except ApplicationError as error:
            self.report_error(request, error)
            return None
        if result.replayed:
            self.message_user(
                request,
                f"This adjustment was already posted as transaction "
                f"#{result.transaction_id}; nothing was posted again.",
                level=messages.WARNING,
            )
        else:
            self.message_user(
                request,
                format_html(
                    "Adjustment of {} posted as transaction #{}.",
                    format_money(amount_minor, currency),
                    result.transaction_id,
                ),
            )
        return HttpResponseRedirect(
            reverse("admin:casino_player_change", args=[player.pk])
        )

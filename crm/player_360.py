"""What the player page shows beyond balances: money records with their states,
limits and policy flags, and the CRM panel (tags, pinned notes, consent, segments,
timeline). Reads only; every change goes through the services."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from casino.models import Player
from common.currency import format_money
from crm.models import Consent, Note, Tag
from crm.selectors import (
    consent_list,
    note_list,
    player_segment_names,
    player_tag_names,
    tag_list,
)
from crm.timeline import KINDS, TimelinePage, player_timeline
from payments.models import Dispute, Refund
from tenants.services import tenant_policy_get
from wallet.models import Deposit, Withdrawal

RECENT = 10


def money(amount_minor: int | None, currency: str) -> str:
    return format_money(amount_minor, currency) if currency else "—"


def money_records(*, player: Player) -> dict:
    """The most recent deposits, withdrawals, refunds and disputes with states."""
    deposits = Deposit.objects.filter(
        tenant_id=player.tenant_id, player=player
    ).order_by("-id")[:RECENT]
    withdrawals = Withdrawal.objects.filter(
        tenant_id=player.tenant_id, player=player
    ).order_by("-requested_at", "-id")[:RECENT]
    refunds = (
        Refund.objects.filter(tenant_id=player.tenant_id, deposit__player=player)
        .select_related("deposit")
        .order_by("-id")[:RECENT]
    )
    disputes = (
        Dispute.objects.filter(tenant_id=player.tenant_id, deposit__player=player)
        .select_related("deposit")
        .order_by("-id")[:RECENT]
    )
    return {
        "deposits": [
            {
                "url": reverse("admin:wallet_deposit_change", args=[d.pk]),
                "id": d.pk,
                "amount": money(d.amount_minor, d.currency),
                "state": d.get_state_display(),
                "provider": d.provider,
                "flagged": d.needs_review,
                "refunded": money(d.refunded_minor, d.currency)
                if d.refunded_minor
                else "",
                "charged_back": money(d.charged_back_minor, d.currency)
                if d.charged_back_minor
                else "",
                "at": d.created_at,
            }
            for d in deposits
        ],
        "withdrawals": [
            {
                "url": reverse("admin:wallet_withdrawal_change", args=[w.pk]),
                "id": w.pk,
                "amount": money(w.amount_minor, w.currency),
                "state": w.get_state_display(),
                "at": w.requested_at,
            }
            for w in withdrawals
        ],
        "refunds": [
            {
                "id": r.pk,
                "deposit_id": r.deposit_id,
                "amount": money(r.amount_minor, r.currency),
                "state": r.get_state_display(),
                "at": r.created_at,
            }
            for r in refunds
        ],
        "disputes": [
            {
                "id": d.pk,
                "deposit_id": d.deposit_id,
                "amount": money(d.amount_minor, d.currency),
                "stage": d.get_stage_display(),
                "at": d.opened_at,
            }
            for d in disputes
        ],
    }


def limits_and_flags(*, player: Player) -> list[tuple[str, str]]:
    policy = tenant_policy_get(tenant=player.tenant)

    def amounts(mapping: dict) -> str:
        return ", ".join(money(v, c) for c, v in sorted((mapping or {}).items())) or (
            "none"
        )

    return [
        ("Status", player.get_status_display()),
        ("KYC", player.get_kyc_status_display()),
        ("Withdrawals frozen", "yes" if player.withdrawals_frozen else "no"),
        (
            "KYC required to withdraw",
            "yes" if policy.kyc_required_for_withdrawal else "no",
        ),
        ("Brand deposits switch", "on" if policy.deposits_enabled else "OFF"),
        ("Brand withdrawals switch", "on" if policy.withdrawals_enabled else "OFF"),
        ("Daily deposit limits", amounts(policy.daily_deposit_limits)),
        ("Daily withdrawal limits", amounts(policy.daily_withdrawal_limits)),
        ("Auto-approve below", amounts(policy.auto_approve_thresholds)),
    ]


@dataclass(frozen=True)
class CrmPanel:
    tags: list[str]
    available_tags: list[Tag]
    pinned_notes: list[Note]
    notes: list[Note]
    consents: dict[str, Consent | None]
    segments: list[str]
    timeline: TimelinePage
    timeline_kinds: list[str]
    timeline_kind: str


def crm_panel(*, player: Player, cursor: str | None, kind: str | None) -> CrmPanel:
    notes = list(note_list(tenant=player.tenant, player=player)[:RECENT])
    consents = consent_list(player=player)
    return CrmPanel(
        tags=player_tag_names(player=player),
        available_tags=list(tag_list(tenant=player.tenant)[:200]),
        pinned_notes=[n for n in notes if n.pinned],
        notes=[n for n in notes if not n.pinned],
        consents={c: consents.get(c) for c in Consent.Channel.values},
        segments=player_segment_names(player=player),
        timeline=player_timeline(
            player=player, cursor=cursor, kinds=[kind] if kind in KINDS else None
        ),
        timeline_kinds=KINDS,
        timeline_kind=kind if kind in KINDS else "",
    )

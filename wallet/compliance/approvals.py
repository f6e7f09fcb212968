"""Maker-checker: above the tenant's amount a withdrawal needs two approvals by two
different operators. The first approval is recorded and the withdrawal stays
``requested``; the second, by someone else, approves it. Both names are audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from audit.services import audit_record
from common import clock
from common.actors import Actor
from tenants.services import tenant_policy_get
from wallet.compliance.risk import maker_checker_required
from wallet.exceptions import (
    WithdrawalCancelNotAllowed,
    WithdrawalSecondApproverRequired,
)
from wallet.models import Withdrawal


def withdrawal_first_approval_record(*, withdrawal: Withdrawal, actor: Actor) -> bool:
    """Called on a locked ``requested`` withdrawal an operator approves. True when
    this approval was the first of two (recorded and audited; the caller stops);
    False when the approval may go ahead (no second approval needed, or this is the
    second by another operator, audited with both names). Raises
    ``WithdrawalSecondApproverRequired`` when the first approver approves again or
    the approver is not a named operator."""
    policy = tenant_policy_get(tenant=withdrawal.tenant)
    if not maker_checker_required(
        policy=policy,
        currency=withdrawal.currency,
        amount_minor=withdrawal.amount_minor,
    ):
        return False
    if actor.user_id is None:
        raise WithdrawalSecondApproverRequired(
            "Above the maker-checker amount only named operators can approve.",
            details={"withdrawal_id": withdrawal.pk},
        )
    if withdrawal.first_approved_by_id is None:
        withdrawal.first_approved_by_id = actor.user_id
        withdrawal.first_approved_at = clock.now()
        withdrawal.save(
            update_fields=["first_approved_by", "first_approved_at", "updated_at"]
        )
        audit_record(
            actor=actor,
            action="withdrawal.first_approval",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            after={"first_approved_by": actor.label, "awaiting_second_approval": True},
        )
        return True
    if withdrawal.first_approved_by_id == actor.user_id:
        raise WithdrawalSecondApproverRequired(
            details={"withdrawal_id": withdrawal.pk, "first_approved_by": actor.label}
        )
    first = get_user_model().objects.get(pk=withdrawal.first_approved_by_id)
    audit_record(
        actor=actor,
        action="withdrawal.second_approval",
        tenant_id=withdrawal.tenant_id,
        target=withdrawal,
        after={
            "first_approved_by": first.get_username(),
            "second_approved_by": actor.label,
        },
    )
    return False


def withdrawal_cancel_allowed_check(*, withdrawal: Withdrawal) -> None:
    """Refuse a player's cancel when the brand does not allow it
    (``WithdrawalCancelNotAllowed``). After approval the state machine refuses it
    anyway: there are no reverse withdrawals."""
    policy = tenant_policy_get(tenant=withdrawal.tenant)
    if not policy.player_may_cancel_withdrawal:
        raise WithdrawalCancelNotAllowed(details={"withdrawal_id": withdrawal.pk})

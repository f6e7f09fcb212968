"""What the ops cron commands do: ask the PSPs about payments we have no outcome for.

- ``stale_deposits_expire``: deposits still waiting for their PSP long after the
  checkout can have lived. Each PSP is asked (``fetch_status``) and a definite answer
  is applied through the wallet's deposit services. A deposit the PSP says was paid
  is **never credited here** (money is credited only from a verified webhook): it is
  flagged for review so an operator reprocesses the webhook or asks the PSP to resend.
- ``payouts_reconcile``: payout attempts whose outcome is unknown (timeout, 5xx) or
  that have waited at the PSP for long. Adyen is asked (``fetch_payout_status``) and a
  known outcome goes through the same services the transfer webhook uses; the manual
  provider has nothing to ask, so those are listed for an operator.

Both are orchestrators like ``payments.deposits.services.deposit_start``: each PSP call is made
with no transaction open and no row locked, and each change is applied afterwards in
a short transaction of its own (``atomic(durable=True)``), where the wallet services
lock the row and re-check its state. So a webhook that lands between the question and
the answer wins, and a second run moves nothing. Call them outside any transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.db import transaction

from common import clock
from common.actors import Actor
from common.currency import format_money
from common.errors import IllegalStateTransition
from payments.exceptions import (
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from payments.models import PSPConfig
from payments.providers.adyen.provider import (
    SIMULATOR_API_KEY_PREFIX as ADYEN_SIMULATOR_API_KEY_PREFIX,
)
from payments.providers.base import PaymentStatus
from payments.providers.registry import (
    provider_build,
    provider_operator_settles_payouts,
)
from payments.providers.stripe.provider import SIMULATOR_KEY_PREFIX
from payments.selectors import psp_config_for_payout
from payments.withdrawals.services import payout_attempt_reask, payout_dispatch
from wallet import services as wallet
from wallet.models import Deposit, PayoutAttempt
from wallet.selectors import deposit_stale_list, payout_attempt_open_list

logger = logging.getLogger(__name__)

# A Stripe Checkout Session lives at most 24 hours (an Adyen payment link 24 hours by
# default); an hour more lets a late webhook land before we ask.
DEFAULT_DEPOSIT_MAX_AGE = timedelta(hours=25)
# A payout the PSP took but has not settled after this long is worth asking about.
DEFAULT_PAYOUT_MAX_AGE = timedelta(hours=1)

# What a deposit review flag says, so a second run recognises its own flag.
PAID_NOT_CREDITED = "paid at the PSP but no verified webhook credited it"


@dataclass(frozen=True, slots=True)
class Finding:
    """One payment the run looked at: what it found and what it did."""

    kind: str  # "deposit" | "payout"
    object_id: int
    tenant_slug: str
    provider: str
    outcome: str  # the counted category (see the command docs)
    detail: str


@dataclass
class RunReport:
    dry_run: bool
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        logger.info(
            "ops.finding",
            extra={
                "kind": finding.kind,
                "object_id": finding.object_id,
                "outcome": finding.outcome,
                "dry_run": self.dry_run,
            },
        )

    @property
    def counts(self) -> Counter[str]:
        return Counter(finding.outcome for finding in self.findings)


def _config_is_simulated(config: PSPConfig) -> bool:
    """A config the simulator generated (``psp_config_ensure_simulated``): there is
    no PSP account behind its key to ask, whether or not the simulator is still
    switched on (a demo database keeps its configs)."""
    return config.secret_key().startswith(
        (SIMULATOR_KEY_PREFIX, ADYEN_SIMULATOR_API_KEY_PREFIX)
    )


# --- deposits ------------------------------------------------------------------------


def deposit_psp_outcome(*, provider: str, status: PaymentStatus) -> str:
    """A provider's checkout status in one vocabulary: ``paid``, ``expired``,
    ``open`` (the player may still pay, or an asynchronous payment is on its way) or
    ``unknown``. Each provider says it (``PaymentStatus.outcome``)."""
    return status.outcome


def stale_deposits_expire(
    *,
    older_than: timedelta = DEFAULT_DEPOSIT_MAX_AGE,
    tenant_id: int | None = None,
    dry_run: bool = False,
) -> RunReport:
    """Settle deposits still ``created`` / ``pending_provider`` older than
    ``older_than``. Opens its own transactions; asks each PSP with none open."""
    report = RunReport(dry_run=dry_run)
    cutoff = clock.now() - older_than
    stale = list(deposit_stale_list(created_before=cutoff, tenant_id=tenant_id))
    configs = {
        (config.tenant_id, config.provider): config
        for config in PSPConfig.objects.filter(
            tenant_id__in={deposit.tenant_id for deposit in stale}
        ).select_related("tenant")
    }
    for deposit in stale:
        report.add(
            _stale_deposit_settle(
                deposit=deposit,
                config=configs.get((deposit.tenant_id, deposit.provider)),
                dry_run=dry_run,
            )
        )
    return report


def _stale_deposit_settle(
    *, deposit: Deposit, config: PSPConfig | None, dry_run: bool
) -> Finding:
    def finding(outcome: str, detail: str) -> Finding:
        return Finding(
            kind="deposit",
            object_id=deposit.pk,
            tenant_slug=deposit.tenant.slug,
            provider=deposit.provider,
            outcome=outcome,
            detail=detail,
        )

    if config is not None and _config_is_simulated(config):
        return _deposit_expire(
            deposit=deposit,
            dry_run=dry_run,
            finding=finding("expired_by_age", "simulated PSP, nothing to ask"),
        )
    if not deposit.provider_reference:
        # The checkout was never opened (the PSP did not answer at creation): there is
        # no session to ask about. A payment on it would still be credited by its
        # webhook: the state machine credits an expired deposit and flags it.
        return _deposit_expire(
            deposit=deposit,
            dry_run=dry_run,
            finding=finding(
                "expired_by_age", "no checkout was ever opened, nothing to ask"
            ),
        )
    if config is None:
        return finding("error", f"the brand has no {deposit.provider} configuration")
    try:
        provider = provider_build(name=config.provider, config=config)
        status = provider.fetch_status(deposit.provider_reference)
    except ProviderUnavailable:
        return finding("unreachable", "the PSP did not answer; left as it is")
    except ProviderError as exc:
        if exc.details.get("http_status") == 404:
            return _deposit_fail(
                deposit=deposit,
                dry_run=dry_run,
                finding=finding(
                    "failed",
                    f"the PSP does not know checkout {deposit.provider_reference}",
                ),
            )
        return finding("error", f"{exc.code}: {exc.message}")
    except (ProviderNotConfigured, NotImplementedError) as exc:
        return finding("error", f"cannot ask {deposit.provider}: {exc}")

    outcome = deposit_psp_outcome(provider=deposit.provider, status=status)
    said = f"PSP says {status.status}"
    if outcome == "expired":
        return _deposit_expire(
            deposit=deposit, dry_run=dry_run, finding=finding("expired", said)
        )
    if outcome == "paid":
        paid = format_money(status.amount_minor, status.currency)
        return _deposit_flag_paid(
            deposit=deposit,
            dry_run=dry_run,
            finding=finding("paid_not_credited", f"{said}, {paid}: not credited"),
        )
    if outcome == "open":
        return finding("still_open", f"{said}; left as it is")
    return finding("unknown_status", f"{said}; left as it is")


_OPS = Actor.system("ops")


def _deposit_expire(*, deposit: Deposit, dry_run: bool, finding: Finding) -> Finding:
    if dry_run:
        return finding
    with transaction.atomic(durable=True):
        wallet.deposit_expire(
            deposit_id=deposit.pk, tenant_id=deposit.tenant_id, actor=_OPS
        )
    return finding


def _deposit_fail(*, deposit: Deposit, dry_run: bool, finding: Finding) -> Finding:
    if dry_run:
        return finding
    with transaction.atomic(durable=True):
        wallet.deposit_fail(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            reason=finding.detail,
            actor=_OPS,
        )
    return finding


def _deposit_flag_paid(*, deposit: Deposit, dry_run: bool, finding: Finding) -> Finding:
    """Flag once: a deposit already flagged by an earlier run is reported again (it
    still needs the operator) but not flagged, nor audited, a second time."""
    already = deposit.needs_review and PAID_NOT_CREDITED in deposit.review_reason
    if already:
        return replace(finding, outcome="paid_already_flagged")
    if dry_run:
        return finding
    with transaction.atomic(durable=True):
        # Locks the row; a webhook that completed it meanwhile has settled it.
        current = Deposit.objects.select_for_update(no_key=True).get(pk=deposit.pk)
        if current.is_final:
            return replace(
                finding,
                outcome="settled_meanwhile",
                detail=f"became {current.state} while we asked",
            )
        wallet.deposit_flag_review(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            reason=f"{PAID_NOT_CREDITED} ({finding.detail})",
            actor=_OPS,
        )
    return finding


# --- payouts -------------------------------------------------------------------------


def payouts_reconcile(
    *,
    older_than: timedelta = DEFAULT_PAYOUT_MAX_AGE,
    tenant_id: int | None = None,
    dry_run: bool = False,
) -> RunReport:
    """Find out what happened to open payout attempts and apply what is known.
    Opens its own transactions; asks each PSP with none open."""
    report = RunReport(dry_run=dry_run)
    cutoff = clock.now() - older_than
    for attempt in payout_attempt_open_list(sent_before=cutoff, tenant_id=tenant_id):
        report.add(_payout_settle(attempt=attempt, dry_run=dry_run))
    return report


def _payout_settle(*, attempt: PayoutAttempt, dry_run: bool) -> Finding:
    States = PayoutAttempt.State  # noqa: N806

    def finding(outcome: str, detail: str) -> Finding:
        return Finding(
            kind="payout",
            object_id=attempt.withdrawal_id,
            tenant_slug=attempt.tenant.slug,
            provider=attempt.provider,
            outcome=outcome,
            detail=f"attempt {attempt.number}: {detail}",
        )

    if attempt.state == States.PENDING:
        # Never claimed, so never sent: the dispatch after commit did not run.
        # Dispatching now is safe (the claim lets one sender through).
        if not dry_run:
            payout_dispatch(attempt_id=attempt.pk)
        return finding("dispatched", "was never sent; dispatched now")
    if provider_operator_settles_payouts(attempt.provider):
        return finding(
            "awaiting_operator",
            "manual bank transfer: mark it paid or failed in the admin",
        )
    config = psp_config_for_payout(
        tenant_id=attempt.tenant_id, provider=attempt.provider
    )
    if config is None:
        return finding("error", f"the brand has no {attempt.provider} configuration")
    if _config_is_simulated(config):
        return finding("simulated", "simulated PSP, nothing to ask")
    if not attempt.provider_reference:
        # The PSP's answer was lost (timeout, garbage, a crash before the commit):
        # its reference is asked for with the attempt's own request and key.
        if dry_run:
            return finding("unknown_no_reference", "would ask the PSP again")
        try:
            reasked = payout_attempt_reask(attempt=attempt)
        except ProviderUnavailable:
            return finding("unreachable", "the PSP did not answer; funds stay held")
        except (ProviderError, ProviderNotConfigured) as exc:
            # Possibly the first send still in progress at the PSP: not a refusal
            # of the payout we can be sure of. Funds stay held; asked again later.
            return finding("error", f"asking again: {exc.code}: {exc.message}")
        except IllegalStateTransition as exc:  # the webhook settled it meanwhile
            return finding(
                "settled_meanwhile",
                f"already {exc.details.get('from_state')} meanwhile",
            )
        if reasked is None:
            return finding(
                "unknown_no_reference",
                "the PSP never gave us a payout id and its idempotency window has "
                "passed; look up reference "
                f"withdrawal:{attempt.withdrawal_id}:attempt:{attempt.pk} at the PSP",
            )
        if reasked.status == "failed":
            return finding("failed", f"PSP refused it: {reasked.failure_reason}")
        attempt.refresh_from_db()
        if not attempt.provider_reference:
            return finding("unknown_no_reference", "the PSP answered without an id")
    try:
        provider = provider_build(name=attempt.provider, config=config)
        result = provider.fetch_payout_status(attempt.provider_reference)
    except ProviderUnavailable:
        return finding("unreachable", "the PSP did not answer; funds stay held")
    except ProviderError as exc:
        return finding("error", f"{exc.code}: {exc.message}")
    except (ProviderNotConfigured, NotImplementedError):
        return finding("error", f"{attempt.provider} has no payout status to ask")

    if result.status == "pending":
        return finding(
            "still_pending",
            f"PSP says {result.failure_reason or 'pending'}; funds stay held",
        )
    if dry_run:
        return finding(result.status, f"PSP says {result.status}")
    psp = Actor.psp(attempt.provider)
    try:
        with transaction.atomic(durable=True):
            if result.status == "paid":
                _, changed = wallet.withdrawal_payout_succeeded(
                    attempt=attempt,
                    actor=psp,
                    provider_reference=attempt.provider_reference,
                )
            else:
                _, changed = wallet.withdrawal_payout_failed(
                    attempt=attempt,
                    actor=psp,
                    reason=result.failure_reason or "failed at the PSP",
                )
    except IllegalStateTransition as exc:
        return finding(
            "settled_meanwhile", f"already {exc.details.get('from_state')} meanwhile"
        )
    if not changed:  # the webhook (or an operator) recorded the same outcome first
        return finding("settled_meanwhile", f"already {result.status} meanwhile")
    return finding(result.status, f"PSP says {result.status}")


def payout_attempt_settle(*, attempt: PayoutAttempt, dry_run: bool = False) -> Finding:
    """Ask the PSP how one open payout attempt ended and record it: the code every
    door uses to settle an unknown outcome (``reconcile_payouts``, the admin's
    "Ask the PSP")."""
    return _payout_settle(attempt=attempt, dry_run=dry_run)


# Re-drivable units for a worker (issue 9): a row id in, idempotent by the services'
# keys, their own transactions, no lock held while the PSP is asked.


def payout_attempt_status_check(*, attempt_id: int) -> Finding:
    """Ask the PSP about one payout attempt (by id) and record what it says."""
    attempt = PayoutAttempt.objects.select_related("tenant").get(pk=attempt_id)
    return _payout_settle(attempt=attempt, dry_run=False)


def deposit_status_check(*, deposit_id: int) -> Finding:
    """Ask the PSP about one open deposit (by id) and apply what it says, as
    ``expire_stale_deposits`` does."""
    deposit = Deposit.objects.select_related("tenant").get(pk=deposit_id)
    config = PSPConfig.objects.filter(
        tenant_id=deposit.tenant_id, provider=deposit.provider
    ).first()
    return _stale_deposit_settle(deposit=deposit, config=config, dry_run=False)

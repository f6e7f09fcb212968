"""Writes of the wallet app, one module per concern; import them from here.

- ``ledger``: accounts, ``transaction_post`` and everything built on it (credits,
  debits, adjustments, holds, reversals).
- ``policies``: the tenant policy checks money movements run under their locks.
- ``withdrawals``: the withdrawal state machine and payout attempts.
- ``deposits``: the deposit state machine and PSP refunds/chargebacks.
"""

from wallet.services.checkpoints import account_checkpoints_take  # noqa: F401, E402
from wallet.services.deposits import (  # noqa: F401
    deposit_chargeback_record,
    deposit_chargeback_reverse,
    deposit_checkout_attach,
    deposit_complete,
    deposit_create,
    deposit_expire,
    deposit_fail,
    deposit_flag_review,
    deposit_refund_record,
    deposit_refund_reverse,
    deposit_replay_get,
    player_withdrawals_freeze,
)
from wallet.services.fees import psp_fee_post  # noqa: F401, E402
from wallet.services.findings import (  # noqa: F401, E402
    FindingSpec,
    finding_dismiss,
    finding_record,
    finding_resolve,
    findings_record,
    findings_record_bulk,
)
from wallet.services.ledger import (  # noqa: F401
    PostingLine,
    PostingResult,
    adjustment_create,
    hold_place,
    hold_post,
    hold_void,
    player_accounts_get_or_create,
    player_credit,
    player_debit,
    system_account_get_or_create,
    transaction_post,
    transaction_reverse,
)
from wallet.services.policies import (  # noqa: F401
    deposit_limit_check,
    deposit_policy_check,
    withdrawal_amount_bounds_check,
    withdrawal_auto_approvable,
    withdrawal_daily_limit_check,
    withdrawal_policy_check,
    withdrawal_velocity_check,
)
from wallet.services.withdrawals import (  # noqa: F401
    payout_attempt_claim,
    payout_attempt_outcome_unknown,
    payout_attempt_provider_reference_set,
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_payout_failed,
    withdrawal_payout_retry,
    withdrawal_payout_returned,
    withdrawal_payout_start,
    withdrawal_payout_succeeded,
    withdrawal_reject,
    withdrawal_request,
    withdrawal_retry_blocked_record,
)

from common.dberrors import constraint_error_register
from common.errors import ApplicationError


class InsufficientFunds(ApplicationError):
    code = "INSUFFICIENT_FUNDS"
    http_status = 400
    default_message = "The available balance does not cover this amount."


class UnbalancedTransaction(ApplicationError):
    code = "LEDGER_UNBALANCED_TRANSACTION"
    http_status = 500
    default_message = "A journal transaction's entries do not sum to zero per currency."


class LedgerAccountMismatch(ApplicationError):
    code = "LEDGER_ACCOUNT_MISMATCH"
    http_status = 500
    default_message = "An entry's account belongs to another tenant or currency."


class LedgerTransactionMismatch(ApplicationError):
    code = "LEDGER_TRANSACTION_MISMATCH"
    http_status = 500
    default_message = "An entry names a journal transaction of another tenant."


# The database's own guard behind the posting functions' check (wallet/sql.py).
constraint_error_register("account_player_balance_non_negative", InsufficientFunds)


class TransactionNotReversible(ApplicationError):
    code = "TRANSACTION_NOT_REVERSIBLE"
    http_status = 409
    default_message = "This transaction cannot be reversed."


# --- withdrawal policy refusals (docs/financial-policies.md) ----------------------------


class _RetryAfterMixin:
    """Refusals that say when to come back, as a ``Retry-After`` header."""

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after_seconds", self.retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PaymentRetryLimitExceeded(ApplicationError):
    code = "PAYMENT_RETRY_LIMIT_EXCEEDED"
    http_status = 422
    default_message = "This payout has been retried as often as the brand allows."


class PaymentCooldownActive(_RetryAfterMixin, ApplicationError):
    code = "PAYMENT_COOLDOWN_ACTIVE"
    http_status = 429
    default_message = "The last payout attempt was too recent; retry later."


class PayoutRetryNotAllowed(ApplicationError):
    code = "PAYOUT_RETRY_NOT_ALLOWED"
    http_status = 403
    default_message = "This brand lets only its operators retry failed payouts."


class LimitExceeded(ApplicationError):
    code = "LIMIT_EXCEEDED"
    http_status = 422
    default_message = "This amount exceeds the daily limit."


class VelocityLimitExceeded(_RetryAfterMixin, ApplicationError):
    code = "VELOCITY_LIMIT_EXCEEDED"
    http_status = 429
    default_message = "Too many withdrawal requests in a short time; retry later."


class KycRequiredForWithdrawal(ApplicationError):
    code = "KYC_REQUIRED_FOR_WITHDRAWAL"
    http_status = 403
    default_message = "Identity verification (KYC) is required before withdrawing."


class WithdrawalsFrozen(ApplicationError):
    code = "WITHDRAWALS_FROZEN"
    http_status = 403
    default_message = "Withdrawals are frozen on this account; contact support."


class WithdrawalAmountBelowMinimum(ApplicationError):
    code = "WITHDRAWAL_AMOUNT_BELOW_MINIMUM"
    http_status = 422
    default_message = "The amount is below the brand's minimum withdrawal."


class WithdrawalAmountAboveMaximum(ApplicationError):
    code = "WITHDRAWAL_AMOUNT_ABOVE_MAXIMUM"
    http_status = 422
    default_message = "The amount is above the brand's maximum withdrawal."


class InvalidPayoutDestination(ApplicationError):
    code = "INVALID_PAYOUT_DESTINATION"
    http_status = 400
    default_message = "The payout destination is not valid."


class DepositNotFound(ApplicationError):
    code = "DEPOSIT_NOT_FOUND"
    http_status = 404
    default_message = "No such deposit for this player and brand."


# --- issue 13: player deposit limits and maker-checker (docs/compliance.md) -------------


class PlayerDepositLimitExceeded(ApplicationError):
    code = "PLAYER_DEPOSIT_LIMIT_EXCEEDED"
    http_status = 422
    default_message = "This deposit would go over a deposit limit you set."


class DepositLimitCoolingOff(_RetryAfterMixin, ApplicationError):
    code = "DEPOSIT_LIMIT_COOLING_OFF"
    http_status = 409
    default_message = (
        "A higher deposit limit or its removal can be confirmed only after the "
        "24-hour cooling-off period."
    )


class DepositLimitNoPendingChange(ApplicationError):
    code = "DEPOSIT_LIMIT_NO_PENDING_CHANGE"
    http_status = 409
    default_message = "There is no pending deposit limit change to confirm."


class WithdrawalCancelNotAllowed(ApplicationError):
    code = "WITHDRAWAL_CANCEL_NOT_ALLOWED"
    http_status = 403
    default_message = (
        "This brand does not let players cancel a withdrawal; contact support."
    )


class WithdrawalSecondApproverRequired(ApplicationError):
    code = "WITHDRAWAL_SECOND_APPROVER_REQUIRED"
    http_status = 409
    default_message = (
        "This withdrawal needs a second approval by another operator than the one "
        "who approved it first."
    )


# --- reconciliation findings (issue 12) --------------------------------------------------


class FindingReasonRequired(ApplicationError):
    code = "FINDING_REASON_REQUIRED"
    http_status = 400
    default_message = "Resolving or dismissing a finding needs a reason."

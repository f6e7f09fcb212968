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


class TransactionNotReversible(ApplicationError):
    code = "TRANSACTION_NOT_REVERSIBLE"
    http_status = 409
    default_message = "This transaction cannot be reversed."


class DepositNotFound(ApplicationError):
    code = "DEPOSIT_NOT_FOUND"
    http_status = 404
    default_message = "No such deposit for this player and brand."

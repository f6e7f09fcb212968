from common.errors import ApplicationError


class AuditChainBroken(ApplicationError):
    code = "AUDIT_CHAIN_BROKEN"
    http_status = 409
    default_message = (
        "The audit trail's hash chain is broken; nothing was pruned. Run "
        "`manage.py audit_verify` to see the first broken link."
    )

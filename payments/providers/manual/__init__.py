"""The ``manual`` provider: bank transfers an operator makes by hand, then marks
paid (with the bank's reference) or failed (with a reason) in the admin."""

from payments.providers.manual.provider import ManualProvider
from payments.providers.registry import register

register("manual", lambda config: ManualProvider(), operator_settles_payouts=True)

__all__ = ["ManualProvider"]

"""Player protection and AML rules of the money flows (issue 13; docs/compliance.md).

- ``deposit_limits``: limits a player sets on themselves, with the 24-hour
  cooling-off for increases, enforced under the deposit's player row lock.
- ``risk``: AML due-diligence and affordability thresholds, risk flags, and the
  reasons a withdrawal must wait for an operator (fail closed).
- ``approvals``: maker-checker, a second operator above the tenant's amount.

The flows call one hook each: ``deposit_gate_check`` where a deposit is recorded,
``withdrawal_review_reasons`` where a withdrawal is decided, and
``withdrawal_first_approval_record`` where an operator approves.
"""

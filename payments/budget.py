"""How long a person's request may wait on a PSP.

Inside ``psp_time_budget(seconds)`` every PSP client built (Stripe, Adyen) times out
after at most ``seconds`` and does not retry, so a hanging PSP costs a player or an
operator no more than the budget; the work is then finished on a worker with the
PSP's full timeout (same idempotency key). Outside a budget, the configured timeouts
and retries apply (workers, commands).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_budget: ContextVar[float | None] = ContextVar("psp_budget", default=None)


@contextmanager
def psp_time_budget(seconds: float) -> Iterator[None]:
    token = _budget.set(seconds if seconds > 0 else None)
    try:
        yield
    finally:
        _budget.reset(token)


def psp_timeout(configured: float) -> float:
    budget = _budget.get()
    return configured if budget is None else min(configured, budget)


def psp_retries(configured: int) -> int:
    return configured if _budget.get() is None else 0

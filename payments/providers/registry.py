"""Provider name → factory. Each provider package registers itself in
``payments/providers/__init__.py`` style: ``register("stripe", build_stripe)``.

A factory takes the tenant's PSPConfig (or None for providers that need none, like
``manual``) and returns a ``PaymentProvider``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.admin_filters import fixed_choices_filter
from payments.exceptions import ProviderNotConfigured
from payments.providers.base import PaymentProvider

ProviderFactory = Callable[[Any], PaymentProvider]

_FACTORIES: dict[str, ProviderFactory] = {}
_OPERATOR_SETTLED: set[str] = set()
# name → f(tenant_slug) -> (PSPConfig field values, secrets), for the simulator.
_SIMULATED: dict[str, Callable[[str], tuple[dict, dict]]] = {}


def register(
    name: str,
    factory: ProviderFactory,
    *,
    operator_settles_payouts: bool = False,
    simulated_config: Callable[[str], tuple[dict, dict]] | None = None,
) -> None:
    _FACTORIES[name] = factory
    if operator_settles_payouts:
        _OPERATOR_SETTLED.add(name)
    if simulated_config is not None:
        _SIMULATED[name] = simulated_config


def provider_simulated_config(*, name: str, tenant_slug: str) -> tuple[dict, dict]:
    """The configuration fields and generated secrets of a simulated account of this
    provider (the simulator never calls the PSP)."""
    try:
        return _SIMULATED[name](tenant_slug)
    except KeyError:
        raise ProviderNotConfigured(details={"provider": name}) from None


def provider_operator_settles_payouts(name: str) -> bool:
    """Whether an operator (not the PSP) says how this provider's payouts ended
    (``PaymentProvider.operator_settles_payouts``), without building it."""
    return name in _OPERATOR_SETTLED


def provider_build(*, name: str, config: Any = None) -> PaymentProvider:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ProviderNotConfigured(details={"provider": name}) from None
    return factory(config)


def provider_names() -> list[str]:
    return sorted(_FACTORIES)


def provider_filter(field: str = "provider", title: str = "provider"):
    """An admin list filter on a provider column whose choices are the registered
    providers (not a ``SELECT DISTINCT`` over the table)."""
    return fixed_choices_filter(field=field, title=title, choices=provider_names)

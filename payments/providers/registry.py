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


def register(name: str, factory: ProviderFactory) -> None:
    _FACTORIES[name] = factory


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

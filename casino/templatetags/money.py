"""``{% load money %}{{ withdrawal.amount_minor|money:withdrawal.currency }}`` →
``120.00 EUR``: templates show money through ``common.currency.format_money``."""

from django import template

from common.currency import format_money

register = template.Library()


@register.filter(name="money")
def money(amount_minor: int | None, currency: str) -> str:
    return format_money(amount_minor, currency)

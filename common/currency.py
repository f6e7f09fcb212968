"""ISO-4217 currencies and their exponents (minor units per major unit = 10**exponent).

Amounts are integers in minor units everywhere; conversion happens only at the edges.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from common.errors import ApplicationError
from common.text import is_ascii_amount

ISO_EXPONENTS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "INR": 2,
    "TRY": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "CLP": 0,
    "ISK": 0,
    "IDR": 2,
    "CVE": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "PYG": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "IQD": 3,
    "LYD": 3,
}


class UnknownCurrency(ApplicationError):
    code = "CURRENCY_NOT_SUPPORTED"
    http_status = 400
    default_message = "This currency is not supported."


class InvalidAmount(ApplicationError):
    code = "INVALID_AMOUNT"
    http_status = 400
    default_message = "The amount is not valid for this currency."


def exponent_of(currency: str) -> int:
    try:
        return ISO_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"Currency {currency!r} is not supported.", details={"currency": currency}
        ) from None


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """``"50.00" EUR`` → ``5000``. Refuses more decimals than the currency has."""
    exponent = exponent_of(currency)
    if isinstance(amount, str) and not is_ascii_amount(amount):
        # Decimal() would read "١٠" or "１０.００" as ten.
        raise InvalidAmount(details={"amount": amount, "currency": currency})
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise InvalidAmount(
            details={"amount": str(amount), "currency": currency}
        ) from None
    if not value.is_finite():
        raise InvalidAmount(details={"amount": str(amount), "currency": currency})
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value(rounding=ROUND_DOWN):
        raise InvalidAmount(
            f"{currency} has {exponent} decimal places.",
            details={"amount": str(amount), "currency": currency, "exponent": exponent},
        )
    return int(scaled)


def to_major(amount_minor: int, currency: str) -> str:
    """``5000`` EUR → ``"50.00"`` (a string, so no float ever carries money)."""
    exponent = exponent_of(currency)
    return str(
        Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
    )


def format_money(amount_minor: int | None, currency: str) -> str:
    """The one way money is shown to a person: major units and the currency code.

    ``12000, "EUR"`` → ``"120.00 EUR"``, ``-5, "EUR"`` → ``"-0.05 EUR"``, ``1200, "JPY"``
    → ``"1200 JPY"``, ``1234, "KWD"`` → ``"1.234 KWD"``. No amount (a system account's
    entry has no balance after) is ``"—"``. A currency this system does not know (an
    old row, a PSP's answer) is shown in minor units and says so, rather than guessed.
    Used by every admin page, portal page, template (``{{ x|money:currency }}``, from
    ``casino/templatetags/money.py``), ``__str__`` and command output.
    """
    if amount_minor is None:
        return "—"
    if currency not in ISO_EXPONENTS:
        return f"{amount_minor} {currency} (minor units)"
    return f"{to_major(amount_minor, currency)} {currency}"


def format_money_html(amount_minor: int | None, currency: str) -> str:
    """``format_money`` for an HTML table cell: kept on one line by the ``money``
    class (styled in templates/admin/base_site.html and the portal's base; an inline
    style attribute would be refused by the Content-Security-Policy)."""
    from django.utils.html import format_html

    return format_html(
        '<span class="money">{}</span>',
        format_money(amount_minor, currency),
    )


def money_display(
    amount_field: str = "amount_minor",
    currency_field: str = "currency",
    *,
    description: str = "Amount",
):
    """An admin column or read-only field showing ``amount_field`` with
    ``format_money``: ``amount = money_display()`` on a ``ModelAdmin``, then
    ``"amount"`` in ``list_display`` / ``readonly_fields`` (sortable by the amount)."""

    def display(model_admin, obj) -> str:
        return format_money_html(
            getattr(obj, amount_field), getattr(obj, currency_field)
        )

    display.short_description = description
    display.admin_order_field = amount_field
    return display

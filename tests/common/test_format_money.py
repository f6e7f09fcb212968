"""The one money formatter: major units by the currency's exponent, then the code."""

import pytest
from django.template import Context, Template

from common.currency import format_money


@pytest.mark.parametrize(
    ("amount_minor", "currency", "shown"),
    [
        (12_000, "EUR", "120.00 EUR"),
        (5, "EUR", "0.05 EUR"),
        (0, "EUR", "0.00 EUR"),
        (-5, "EUR", "-0.05 EUR"),
        (-12_345, "USD", "-123.45 USD"),
        (1_200, "JPY", "1200 JPY"),
        (-7, "JPY", "-7 JPY"),
        (1_234, "KWD", "1.234 KWD"),
        (-1, "KWD", "-0.001 KWD"),
        (10**15 + 1, "EUR", "10000000000000.01 EUR"),
    ],
)
def test_format_money_shows_major_units_by_the_currency_exponent(
    amount_minor, currency, shown
):
    assert format_money(amount_minor, currency) == shown


def test_no_amount_is_a_dash_not_zero():
    assert format_money(None, "EUR") == "—"


def test_an_unknown_currency_says_its_amount_is_in_minor_units():
    assert format_money(1_500, "XYZ") == "1500 XYZ (minor units)"


def test_the_template_filter_is_the_same_formatter():
    template = Template("{% load money %}{{ amount|money:currency }}")
    assert template.render(Context({"amount": 1_234, "currency": "KWD"})) == (
        "1.234 KWD"
    )
    assert template.render(Context({"amount": None, "currency": "EUR"})) == "—"


def test_the_html_form_keeps_the_amount_on_one_line_and_escapes_nothing_else():
    from common.currency import format_money_html

    assert format_money_html(-1_500, "EUR") == ('<span class="money">-15.00 EUR</span>')

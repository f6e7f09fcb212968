"""Settlement files in the PSPs' real CSV layouts, and the deposits they settle."""

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

from common.actors import Actor
from payments.models import Refund
from tests.payments.factories import pending_deposit
from wallet import services as wallet

PSP = Actor.psp("stripe")
_refs = itertools.count(1)

# The columns of Stripe's itemized payout reconciliation report we produce in tests
# (a report run may have more; the parser needs the first six).
STRIPE_COLUMNS = [
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
    "automatic_payout_id",
    "payment_intent_id",
    "charge_id",
]

ADYEN_COLUMNS = [
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
]


def completed_deposit(player, amount_minor=5000, currency="EUR", provider="stripe"):
    deposit = pending_deposit(
        player, amount_minor=amount_minor, currency=currency, provider=provider
    )
    return wallet.deposit_complete(
        deposit_id=deposit.pk,
        tenant_id=deposit.tenant_id,
        amount_minor=amount_minor,
        currency=currency,
        payment_reference=f"pi_test_{next(_refs)}",
        actor=PSP,
    )


def refund_row(deposit, amount_minor, *, state=Refund.State.SUCCEEDED):
    return Refund.objects.create(
        tenant_id=deposit.tenant_id,
        deposit=deposit,
        provider=deposit.provider,
        amount_minor=amount_minor,
        currency=deposit.currency,
        state=state,
        provider_reference=f"re_test_{next(_refs)}",
    )


def now_text(minutes: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def major(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def stripe_line(category, *, gross, fee=0, pi="", source="", payout="po_1", minutes=0):
    return {
        "balance_transaction_id": f"txn_{next(_refs)}",
        "created_utc": now_text(minutes),
        "available_on_utc": now_text(minutes),
        "currency": "eur",
        "gross": major(gross),
        "fee": major(fee),
        "net": major(gross - fee),
        "reporting_category": category,
        "source_id": source,
        "description": "",
        "automatic_payout_id": payout,
        "payment_intent_id": pi,
        "charge_id": f"ch_{next(_refs)}" if category == "charge" else "",
    }


def stripe_charge(deposit, *, fee=30, minutes=0, gross=None, payout="po_1"):
    return stripe_line(
        "charge",
        gross=deposit.amount_minor if gross is None else gross,
        fee=fee,
        pi=deposit.payment_reference,
        minutes=minutes,
        payout=payout,
    )


def stripe_file(lines) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STRIPE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue().encode()


def adyen_line(
    journal,
    *,
    psp="",
    merchant="",
    modification="",
    currency="EUR",
    gross_credit="",
    gross_debit="",
    net_credit="",
    net_debit="",
    commission="",
    markup="",
    scheme="",
    interchange="",
    batch="7",
):
    return {
        "Company Account": "CasinoCo",
        "Merchant Account": "CasinoCoEUR",
        "Psp Reference": psp,
        "Merchant Reference": merchant,
        "Payment Method": "visa",
        "Creation Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "TimeZone": "UTC",
        "Type": journal,
        "Modification Reference": modification,
        "Gross Currency": currency if (gross_credit or gross_debit) else "",
        "Gross Debit (GC)": gross_debit,
        "Gross Credit (GC)": gross_credit,
        "Exchange Rate": "1",
        "Net Currency": currency,
        "Net Debit (NC)": net_debit,
        "Net Credit (NC)": net_credit,
        "Commission (NC)": commission,
        "Markup (NC)": markup,
        "Scheme Fees (NC)": scheme,
        "Interchange (NC)": interchange,
        "Payment Method Variant": "visaclassic",
        "Modification Merchant Reference": "",
        "Batch Number": batch,
    }


def adyen_file(lines) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ADYEN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue().encode()

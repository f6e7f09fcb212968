"""Which PSP's settlement report each provider name reads (``reconcile_psp
--provider``). A PSP with a settlement report adds its parser here."""

from __future__ import annotations

from payments.exceptions import SettlementFileInvalid
from payments.providers.adyen import settlement as adyen_settlement
from payments.providers.settlement import Parser
from payments.providers.stripe import settlement as stripe_settlement

PARSERS: dict[str, Parser] = {
    "stripe": stripe_settlement.parse,
    "adyen": adyen_settlement.parse,
}


def settlement_parser_for(name: str) -> Parser:
    try:
        return PARSERS[name]
    except KeyError:
        raise SettlementFileInvalid(
            f"There is no settlement report format for provider {name!r}.",
            details={"provider": name, "known": sorted(PARSERS)},
        ) from None

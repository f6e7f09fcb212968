"""What the Adyen adapter needs to know about one brand's Adyen account.

A plain frozen dataclass so the adapter does not depend on the PSPConfig model: the
model (or a test) builds one of these with decrypted secrets. ``__repr__`` hides every
secret so a config can never leak through a log line or a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

SECRET_FIELDS = frozenset(
    {"api_key", "hmac_key", "webhook_password", "balance_platform_hmac_key"}
)


@dataclass(frozen=True, slots=True)
class AdyenConfig:
    merchant_account: str
    api_key: str = field(default="")
    hmac_key: str = field(default="")  # hex, from the standard webhook's settings
    webhook_username: str = ""
    webhook_password: str = field(default="")
    environment: str = "test"  # "test" | "live"
    live_url_prefix: str = ""  # required for live Checkout: "<prefix>-checkout-live..."
    balance_account_id: str = ""  # source of payouts (Transfers API)
    # HMAC key of the Balance Platform webhook that sends transfer updates.
    balance_platform_hmac_key: str = field(default="")
    # Base URLs without the version suffix would be wrong: these replace the whole
    # service URL (e.g. "https://checkout-test.adyen.com/v72"). Empty = Adyen's own.
    checkout_base_url: str = ""
    transfers_base_url: str = ""
    timeout_seconds: int = 20
    # Other merchant accounts of the same brand whose notifications may arrive on
    # this endpoint (company-level webhooks). Anything else is refused.
    extra_merchant_accounts: tuple[str, ...] = ()
    tenant_slug: str = ""
    # Simulator mode (PAYMENTS_SIMULATOR_ENABLED): deposits open the local simulated
    # checkout instead of calling Adyen.
    simulator: bool = False

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name in SECRET_FIELDS and getattr(self, f.name) else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"AdyenConfig({shown})"

    @property
    def merchant_accounts(self) -> frozenset[str]:
        return frozenset({self.merchant_account, *self.extra_merchant_accounts})

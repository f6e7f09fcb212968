from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "Wallet ledger"

    def ready(self) -> None:
        from common import currency  # noqa: F401  (registers currency error codes)
        from wallet import exceptions  # noqa: F401

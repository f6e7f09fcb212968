"""Adyen: Pay by Link deposits, HMAC-verified notifications, Transfers payouts."""

from payments.providers.adyen.provider import build_adyen, simulated_config
from payments.providers.registry import register

register("adyen", build_adyen, simulated_config=simulated_config)

"""The PSP fakes the closed-loop tests pay refund legs through."""

from tests.adyen.conftest import adyen_config_model, fake_adyen  # noqa: F401
from tests.payments.conftest import fake_stripe  # noqa: F401

import json
import re
from pathlib import Path

from common.errors import registry

DOC = Path(__file__).resolve().parent.parent / "docs" / "financial-policies.md"
ROW = re.compile(r"^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*`(.+)`\s*\|$", re.M)

POLICY_CODES = {
    "MODULE_TEMPORARILY_DISABLED",
    "WITHDRAWALS_FROZEN",
    "KYC_REQUIRED_FOR_WITHDRAWAL",
    "WITHDRAWAL_AMOUNT_BELOW_MINIMUM",
    "WITHDRAWAL_AMOUNT_ABOVE_MAXIMUM",
    "LIMIT_EXCEEDED",
    "VELOCITY_LIMIT_EXCEEDED",
    "INVALID_PAYOUT_DESTINATION",
    "ILLEGAL_TRANSACTION_STATE_TRANSITION",
    "PAYOUT_RETRY_NOT_ALLOWED",
    "PAYMENT_RETRY_LIMIT_EXCEEDED",
    "PAYMENT_COOLDOWN_ACTIVE",
    "RATE_LIMITED",
}


def table() -> list[tuple[str, int, str]]:
    return [
        (code, int(status), body) for code, status, body in ROW.findall(DOC.read_text())
    ]


def test_every_code_in_the_table_exists_in_the_registry_with_that_status():
    in_code = {code: cls.http_status for code, cls in registry().items()}
    assert {code: status for code, status, _ in table()}.items() <= in_code.items()


def test_every_policy_code_of_withdrawals_is_in_the_table():
    assert {code for code, _, _ in table()} >= POLICY_CODES


def test_every_example_body_is_the_error_shape_of_its_own_code():
    for code, _, body in table():
        error = json.loads(body)["error"]
        assert error["code"] == code
        assert set(error) == {"code", "message", "details"}

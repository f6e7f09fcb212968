import re
from pathlib import Path

from common.errors import registry

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
ROW = re.compile(r"^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|", re.MULTILINE)


def documented_codes() -> dict[str, int]:
    return {code: int(status) for code, status in ROW.findall(DOC.read_text())}


def test_every_registered_error_is_documented_with_its_status():
    in_code = {code: cls.http_status for code, cls in registry().items()}
    assert in_code == documented_codes()


def test_error_codes_are_upper_snake_case():
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", code) for code in registry())

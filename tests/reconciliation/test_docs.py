"""Every finding code is documented in docs/reconciliation.md with its severity."""

from pathlib import Path

import pytest

from wallet.finding_codes import FINDING_CODES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "reconciliation.md").read_text()


@pytest.mark.parametrize("code", sorted(FINDING_CODES))
def test_the_finding_code_is_documented_with_its_severity(code):
    assert f"| `{code}` | {FINDING_CODES[code]} |" in DOC

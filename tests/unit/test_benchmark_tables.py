"""The benchmarks' result writer (benchmarks/common.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import common


def test_rows_with_different_columns_share_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The frontier's planted leak is audited, not evaluated: its row lacks the utility columns a method's has."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    rows = [{"method": "rpsg", "accuracy": 0.65}, {"method": "leak", "epsilon_empirical": 2.39}]
    table = common.save("t", {}, rows)
    assert "| method | accuracy | epsilon_empirical |" in table
    assert "| leak | – | 2.39 |" in table
    assert json.loads((tmp_path / "t.json").read_text())["rows"] == rows

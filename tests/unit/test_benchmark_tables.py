"""Helpers of the benchmark scripts: the result writer (benchmarks/common.py) and the frontier's settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import common
import frontier
import numpy as np
import synthetic_overlap


def test_rows_with_different_columns_share_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The frontier's planted leak is audited, not evaluated: its row lacks the utility columns a method's has."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    rows = [{"method": "rpsg", "accuracy": 0.65}, {"method": "leak", "epsilon_empirical": 2.39}]
    table = common.save("t", {}, rows)
    assert "| method | accuracy | epsilon_empirical |" in table
    assert "| leak | – | 2.39 |" in table
    assert json.loads((tmp_path / "t.json").read_text())["rows"] == rows


def test_the_frontier_runs_per_record_methods_on_every_member() -> None:
    """The demo config samples 64 seeds; the frontier's members must all enter RPSG's and RUPTA's runs."""
    for method in ("rpsg", "rupta"):
        assert frontier.method_sets(method, 128, 4.0, (2, 2))["input.seeds"] == "null"
    assert "input.seeds" not in frontier.method_sets("dpsgd", 128, 4.0, (2, 2))  # a release method samples none


def test_a_frontier_variant_runs_beside_the_plain_ones_and_keeps_its_methods_attacks() -> None:
    """`--variant adapted ...` must not overwrite the plain run's folder or row, and its RPSG runs still get the
    per-record re-run attack."""
    assert frontier.run_names("rpsg", 4.0, "") == ("rpsg", "rpsg-eps4")
    assert frontier.run_names("rpsg", 4.0, "adapted") == ("rpsg+adapted", "rpsg-adapted-eps4")
    assert frontier.run_names("leak", float("inf"), "adapted") == ("leak", "leak-epsinf")  # no config to vary
    assert frontier.base_method("rpsg+adapted") in frontier.PER_RECORD
    kept = frontier.with_sittings(
        [{"method": "rpsg+adapted", "epsilon": 4.0}],
        "now",
        {"when": "then", "rows": [{"method": "rpsg", "epsilon": 4.0}]},
    )
    assert [(r["method"], r["sitting"]) for r in kept] == [("rpsg", "then"), ("rpsg+adapted", "now")]


@pytest.mark.parametrize("items", ["rpsg.epsilon=8", "input.seeds=64", "rpsg.rewrite.temperature"])
def test_a_frontier_variant_may_not_set_what_its_row_label_states(items: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A variant that changed ε or the sizes would publish a row whose ε and n are not the run's."""
    monkeypatch.setattr(sys, "argv", ["frontier.py", "--runs", "rpsg:4", "--variant", "x", items])
    monkeypatch.setattr(frontier, "split", lambda *_: pytest.fail("the benchmark started past the guard"))
    with pytest.raises(SystemExit) as stopped:
        frontier.main()
    assert stopped.value.code == 2


def test_the_frontier_refuses_more_audit_canaries_than_a_quarter_of_the_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each canary's host leaves the membership attacks: 100 canaries in 128 members left them 27."""
    monkeypatch.setattr(sys, "argv", ["frontier.py", "--members", "128", "--one-run", "33"])
    monkeypatch.setattr(frontier, "split", lambda *_: pytest.fail("the benchmark started past the guard"))
    with pytest.raises(SystemExit) as stopped:
        frontier.main()
    assert stopped.value.code == 2


def test_a_resumed_evaluate_is_kept_only_when_it_covers_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frontier's --resume keeps an evaluate that holds every run; one run missing and it evaluates again."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(common, "cli", lambda *args: calls.append(args))
    out = tmp_path / "evaluate"
    out.mkdir()
    methods = [{"run_dir": str(tmp_path / r), "kind": "synthetic", "metrics": {"mauve": r}} for r in ("a", "b")]
    (out / "metrics.json").write_text(json.dumps({"methods": [*methods, {"run_dir": None, "kind": "real"}]}))
    kept = common.evaluate([tmp_path / "a"], out, reuse=True)
    assert not calls and kept[tmp_path / "a"] == {"mauve": "a"}
    common.evaluate([tmp_path / "a", tmp_path / "c"], out, reuse=True)
    common.evaluate([tmp_path / "a"], out)
    assert len(calls) == 2 and calls[0][:3] == ("evaluate", str(tmp_path / "a"), str(tmp_path / "c"))


def test_a_frontier_sitting_keeps_only_the_earlier_rows_it_did_not_measure_again() -> None:
    """`--add-to`: rows measured now replace an earlier sitting's for the same (method, ε); the others are kept,
    each marked with its own sitting (ε = ∞ read back from JSON as a float)."""
    earlier = {
        "when": "2026-12-04 23:18",
        "rows": [{"method": "rpsg", "epsilon": 4.0, "accuracy": 0.6}, {"method": "dpsgd", "epsilon": float("inf")}],
    }
    earlier = json.loads(json.dumps(earlier))
    now = [{"method": "rpsg", "epsilon": 4.0, "accuracy": 0.7}, {"method": "rpsg_dp", "epsilon": 1.0}]
    rows = frontier.with_sittings(now, "2026-12-06 10:00", earlier)
    assert [(r["method"], r["epsilon"], r["sitting"]) for r in rows] == [
        ("dpsgd", float("inf"), "2026-12-04 23:18"),
        ("rpsg", 4.0, "2026-12-06 10:00"),
        ("rpsg_dp", 1.0, "2026-12-06 10:00"),
    ]
    assert rows[1]["accuracy"] == 0.7
    assert frontier.with_sittings(now, "t", None) == [{**r, "sitting": "t"} for r in now]


def test_the_overlap_check_drops_a_row_only_for_a_kept_neighbour() -> None:
    """Rows 0 and 1 are near-duplicates, 1 and 2 too, 0 and 2 are not: once 1 is dropped, 2 has no kept neighbour."""
    similarity = np.array([[1.0, 0.85, 0.5], [0.85, 1.0, 0.85], [0.5, 0.85, 1.0]])
    assert synthetic_overlap.greedy_keep(similarity, 0.8) == [0, 2]
    assert synthetic_overlap.greedy_keep(similarity, 0.9) == [0, 1, 2]

"""rpsg compare: the join of evaluate and audit outputs, on metrics files written here (the join logic only;
the measurements themselves are tested in test_evaluation and test_audit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rpsg_ray.cli import main
from rpsg_ray.errors import InputError


def _attack(auc: float, tpr: float, positive_seen: bool = True) -> dict:
    return {
        "run": {"auc": {"value": auc, "ci95": [auc - 0.04, auc + 0.04]}, "tpr_at_fpr": {"0.01": {"value": tpr}}},
        "controls": {"positive_seen": positive_seen, "negative_clean": True},
    }


def _write(tmp_path: Path) -> tuple[Path, Path, Path]:
    runs = {}
    for name, epsilon in (("dp", 4.0), ("open", None)):
        run = tmp_path / name
        run.mkdir()
        scope = {"covers": ["the choice among K candidates"]}
        (run / "ledger.json").write_text(json.dumps({"epsilon": epsilon, "scope": scope}))
        runs[name] = run
    metric = {"mean": 0.7, "ci95": [0.6, 0.8]}
    ev = tmp_path / "eval"
    ev.mkdir()
    methods = [
        {
            "name": n,
            "kind": "synthetic",
            "method": "rpsg",
            "run_dir": str(r),
            "metrics": {"classifier_accuracy": metric},
        }
        for n, r in runs.items()
    ]
    methods.append({"name": "real data (ceiling)", "kind": "real", "metrics": {"mauve": {"mean": 0.9}}})
    (ev / "metrics.json").write_text(json.dumps({"methods": methods, "sample_size_n": 64, "interval": "95% CI"}))
    audit = tmp_path / "audit"
    audit.mkdir()
    attacks = {"blind_but_high": _attack(0.9, 0.5, positive_seen=False), "lm_loss": _attack(0.56, 0.03)}
    attacks["nearest"] = _attack(0.52, 0.08)
    canaries = [
        {"verbatim_rows": 1, "partial_rows": 0, "exposure": 2.5},
        {"verbatim_rows": 0, "partial_rows": 3, "exposure": 0.5},
    ]
    (audit / "metrics.json").write_text(
        json.dumps({"run_dir": str(runs["dp"]), "attacks": attacks, "canaries": canaries})
    )
    return ev, audit, runs["dp"]


def test_compare_joins_by_run_and_uses_only_controlled_attacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ev, audit, _ = _write(tmp_path)
    assert main(["compare", "--evaluate", str(ev), "--audit", str(audit), "--output", str(tmp_path / "t.md")]) == 0
    rows = {
        line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")
    }
    dp, open_, real = rows["dp"], rows["open"], rows["real data (ceiling)"]
    # the attack that missed its positive control is never the headline, however high its AUC
    assert "0.560 [0.520, 0.600] (lm_loss)" in dp and "blind_but_high" not in dp
    assert "| 0.080 |" in dp and "| 1/2 | 2.5 |" in dp  # best TPR among controlled attacks; verbatim leaks only
    assert "ε = 4" in dp and "0.700 [0.600, 0.800]" in dp
    assert "none (ε = ∞)" in open_ and open_.rstrip(" |").endswith("– | – | – | –")  # no audit given: no claim
    assert "0.900" in real and (tmp_path / "t.md").read_text().count("\n| ") == 3  # three runs


def test_compare_refuses_an_audit_without_a_usable_attack(tmp_path: Path) -> None:
    ev, audit, _ = _write(tmp_path)
    m = json.loads((audit / "metrics.json").read_text())
    for a in m["attacks"].values():
        a["controls"]["negative_clean"] = False
    (audit / "metrics.json").write_text(json.dumps(m))
    from rpsg_ray.comparison import comparison_table

    with pytest.raises(InputError, match="no attack passed both controls"):
        comparison_table(ev, [audit])

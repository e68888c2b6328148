"""The release card: every section on one page, each marked shareable or not, the empirical ε held against a
whole-output claim only, and a page that renders with its plot in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import chromium_check

from rpsg_ray.card import PRIVATE, SHAREABLE, release_card
from rpsg_ray.errors import InputError
from rpsg_ray.io.layout import RunLayout

TEXTS = ["A calm, kind film about two sisters.", "Loud, long and hollow.", "Gorgeous score, thin plot."]


def _run(root: Path, dataset_level: bool) -> Path:
    layout = RunLayout(root)
    layout.private.mkdir(parents=True)
    ids = [f"s{i}" for i in range(len(TEXTS))]
    pq.write_table(pa.table({"synthetic_id": ids, "text": TEXTS, "label": ["positive"] * 3}), layout.synthetic)
    layout.manifest.write_text(json.dumps({"method": "augpe"}))
    scope = {"covers": ["the whole released set"], "not_covered": ["the public model's training data"]}
    ledger = {"method": "augpe", "epsilon": 1.0, "delta": 1e-5, "scope": scope, "dataset_level": dataset_level}
    layout.ledger.write_text(json.dumps({**ledger, "scope_summary": "Covers the whole released synthetic set."}))
    return root


def _outputs(tmp: Path, run: Path, empirical: float) -> tuple[Path, Path]:
    metric = {"mean": 0.7, "ci95": [0.6, 0.8]}
    methods = [
        {"name": "run", "kind": "synthetic", "run_dir": str(run), "metrics": {"classifier_accuracy": metric}},
        {"name": "real", "kind": "real", "run_dir": None, "metrics": {"classifier_accuracy": {"mean": 0.8}}},
    ]
    (tmp / "eval").mkdir()
    (tmp / "eval" / "metrics.json").write_text(json.dumps({"methods": methods}))
    attack = {
        "run": {"auc": {"value": 0.52}, "tpr_at_fpr": {"0.01": {"value": 0.02}}},
        "family_wise_p": {"auc": 0.41, "tpr": 0.6},
        "verdict": "no leak seen (AUC ≤ 0.55)",
    }
    audit = {
        "run_dir": str(run),
        "conclusion": "1 of 1 attacks passed both controls.",
        "attacks": {"nearest_similarity": attack},
        "canaries": [{"canary_id": "c0", "verbatim_rows": 0, "included": True}],
        "one_run": {"epsilon_empirical": empirical, "correct": 30, "guesses": 40, "canaries": 200},
        "claim": {"epsilon": 1.0, "dataset_level": json.loads((run / "ledger.json").read_text())["dataset_level"]},
    }
    (tmp / "audit").mkdir()
    (tmp / "audit" / "metrics.json").write_text(json.dumps(audit))
    return tmp / "eval", tmp / "audit"


def test_card_puts_every_section_on_one_page_and_renders(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", dataset_level=True)
    html = release_card(run, *_outputs(tmp_path, run, empirical=1.6), tmp_path / "card")
    page = html.read_text()
    for part in ("1. The guarantee", "2. Quality", "3. Example rows", "4. Leakage", TEXTS[0], "0.410", "0.700"):
        assert part in page, part
    markdown = html.with_suffix(".md").read_text()
    assert markdown.count(SHAREABLE.lower()) == 3 and markdown.count(PRIVATE.lower()) == 1  # the audit is not
    assert "is BROKEN against it" in page  # an empirical ε above a whole-output claim
    images, _ = chromium_check(html, tmp_path / "card.png")
    assert images == "1"  # the quality plot decodes in a real browser


def test_card_does_not_hold_a_component_claim_against_the_empirical_bound(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", dataset_level=False)
    page = release_card(run, *_outputs(tmp_path, run, empirical=1.6), tmp_path / "card").read_text()
    assert "not compared" in page and "BROKEN" not in page
    with pytest.raises(InputError, match="audits"):
        release_card(_run(tmp_path / "other", True), tmp_path / "eval", tmp_path / "audit", tmp_path / "x")

"""One release card per run: a single page with what a data owner decides a release on, side by side: the
claimed guarantee and its scope, the quality figures beside the real-data ceiling, example rows, and the
leakage the audit measured (family-wise verdicts, canaries, the empirical ε beside the claim).

Each section says whether it may go to the data's consumers: the guarantee (the published ledger), the
quality figures (measured against public real splits) and the examples (published rows) may; the leakage
section may not, because every figure in it is measured on the private members and the planted secrets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rpsg_ray.comparison import UTILITY
from rpsg_ray.errors import InputError
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.pages import Page, subplots

SHAREABLE = "Shareable with the data's consumers"
PRIVATE = "Keep with the data owner"
EXAMPLES = 5


def _metrics(path: Path) -> dict[str, Any]:
    file = path / "metrics.json"
    if not file.is_file():
        raise InputError(f"{file}: not found (the --output folder of rpsg evaluate or rpsg audit run)")
    return json.loads(file.read_text())


def _evaluated(evaluation: dict[str, Any], run_dir: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """This run's entry in an `rpsg evaluate` output, and the real-data ceiling's."""
    mine = [m for m in evaluation["methods"] if m["kind"] == "synthetic" and Path(m["run_dir"]).resolve() == run_dir]
    if not mine:
        raise InputError(f"{run_dir}: not among the runs of this rpsg evaluate output")
    return mine[0], next((m for m in evaluation["methods"] if m["kind"] == "real"), None)


def _mean(entry: dict[str, Any] | None, key: str) -> float | None:
    value = (entry or {}).get("metrics", {}).get(key) or {}
    return value.get("mean")


def _quality(page: Page, run: dict[str, Any], real: dict[str, Any] | None) -> None:
    rows, labels, ratios = [], [], []
    for label, key in UTILITY:
        mine, ceiling = _mean(run, key), _mean(real, key)
        rows.append([label, "–" if mine is None else f"{mine:.3f}", "–" if ceiling is None else f"{ceiling:.3f}"])
        if mine is not None and ceiling:
            labels.append(label)
            ratios.append(mine / ceiling)
    page.table(rows, ["metric", "this run", "real data (ceiling)"])
    if ratios:
        fig, ax = subplots(1, 1, figsize=(7, 3))
        ax.barh(labels[::-1], ratios[::-1], color="#4c72b0")
        ax.axvline(1.0, color="#c44e52", linestyle="--")
        ax.set_xlabel("this run / real data (↓ metrics: lower is better)")
        fig.tight_layout()
        page.figure("Quality relative to real data", fig)


def _leakage(page: Page, audit: dict[str, Any]) -> None:
    page.paragraph(audit["conclusion"])
    rows = [
        [
            name,
            f"{a['run']['auc']['value']:.3f}",
            "–" if "family_wise_p" not in a else f"{a['family_wise_p']['auc']:.3f}",
            f"{a['run']['tpr_at_fpr']['0.01']['value']:.3f}",
            a["verdict"],
        ]
        for name, a in audit["attacks"].items()
    ]
    page.table(rows, ["attack", "AUC", "family-wise p", "TPR@1%FPR", "verdict"])
    canaries = [c for c in audit.get("canaries", []) if c.get("included", True)]
    if canaries:
        verbatim = sum(c["verbatim_rows"] > 0 for c in canaries)
        page.paragraph(f"Planted canaries written out verbatim: {verbatim} of {len(canaries)}.")
    one, claim = audit.get("one_run"), audit.get("claim", {})
    if one:
        compared = claim.get("dataset_level") and claim.get("epsilon") is not None
        verdict = (
            ("holds" if one["epsilon_empirical"] <= claim["epsilon"] else "is BROKEN") + " against it"
            if compared
            else "not compared: the claim does not cover the whole output"
        )
        page.paragraph(
            f"Empirical ε (one run, 95% lower bound): {one['epsilon_empirical']:.2f} from {one['correct']} of "
            f"{one['guesses']} guesses over {one['canaries']} audit canaries; claimed ε = {claim.get('epsilon')}: "
            f"{verdict}."
        )


def release_card(run_dir: Path, evaluate_dir: Path, audit_dir: Path, output: Path) -> Path:
    """Write OUTPUT/card.html and card.md for one run; returns the HTML path."""
    files = RunFiles.open(run_dir)
    ledger, rows = files.ledger(), files.synthetic(["text", "label"], ("text",))
    audit = _metrics(audit_dir)
    if Path(audit["run_dir"]).resolve() != run_dir.resolve():
        raise InputError(f"{audit_dir}: audits {audit['run_dir']}, not {run_dir}")
    run, real = _evaluated(_metrics(evaluate_dir), run_dir.resolve())
    page = Page(f"Release card: {run_dir.name} ({ledger['method']})", tab=f"release card {run_dir.name}")
    page.heading(f"1. The guarantee ({SHAREABLE.lower()}: it is the published ledger)")
    page.paragraph(ledger.get("scope_summary") or "")
    page.bullets([f"ε = {ledger['epsilon']}, δ = {ledger['delta']}", *ledger["scope"]["covers"]])
    page.paragraph("Not covered:")
    page.bullets(ledger["scope"]["not_covered"])
    page.heading(f"2. Quality ({SHAREABLE.lower()}: measured against public real splits only)")
    _quality(page, run, real)
    page.heading(f"3. Example rows ({SHAREABLE.lower()}: they are published rows)")
    page.quotes(rows["text"].to_pylist()[:EXAMPLES])
    page.heading(f"4. Leakage measured by the audit ({PRIVATE.lower()}: measured on the private members)")
    _leakage(page, audit)
    output.mkdir(parents=True, exist_ok=True)
    page.write(output / "card.html", output / "card.md")
    return output / "card.html"

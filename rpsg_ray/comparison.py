"""The paper's comparison table, from measurements only: one `rpsg evaluate` output (utility, fidelity,
diversity, defect rate of every run, beside the real-data ceiling) joined with one `rpsg audit` output per
run (membership leakage, canaries), matched by run directory. Each ε comes from the run's own ledger, with
what it covers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpsg_ray.errors import InputError
from rpsg_ray.io.run_reader import RunFiles

UTILITY = (
    ("downstream acc.", "classifier_accuracy"),
    ("next-word acc.", "next_token_accuracy"),
    ("FID ↓", "fid"),
    ("MAUVE", "mauve"),
    ("Self-BLEU ↓", "self_bleu"),
    ("defect rate ↓", "defect_rate"),
)


@dataclass(frozen=True)
class Leakage:
    best_attack: str
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_1pct: float
    canaries_leaked: int
    canaries: int
    max_exposure: float | None
    family_p: float | None
    """The strongest attack's family-wise p-value (older audits have none)."""
    epsilon_empirical: float | None


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputError(f"{path}: not found (expected the metrics.json of rpsg evaluate or rpsg audit)")
    return json.loads(path.read_text())


def leakage(audit: dict[str, Any]) -> Leakage:
    """The strongest attack among those that passed both controls (the ones the audit can conclude from)."""
    usable = {a: m for a, m in audit["attacks"].items() if m.get("controls") and all(m["controls"].values())}
    if not usable:
        raise InputError(f"audit of {audit['run_dir']}: no attack passed both controls; nothing to conclude")
    name, best = max(usable.items(), key=lambda kv: kv[1]["run"]["auc"]["value"])
    tpr = max(m["run"]["tpr_at_fpr"]["0.01"]["value"] for m in usable.values())
    canaries = audit.get("canaries") or []
    leaked = sum(1 for c in canaries if c["verbatim_rows"])
    exposure = max((c["exposure"] for c in canaries), default=None)
    auc = best["run"]["auc"]
    family = (best.get("family_wise_p") or {}).get("auc")
    one_run = (audit.get("one_run") or {}).get("epsilon_empirical")
    return Leakage(name, auc["value"], tuple(auc["ci95"]), tpr, leaked, len(canaries), exposure, family, one_run)


def _guarantee(run_dir: Path) -> str:
    ledger = RunFiles.open(run_dir).ledger()
    if ledger.get("epsilon") is None:
        return "none (ε = ∞)"
    covers = ledger["scope"]["covers"][0]
    return f"ε = {ledger['epsilon']:g} ({covers[:60]}{'…' if len(covers) > 60 else ''})"


def _cell(metric: dict[str, Any] | None) -> str:
    if not metric or metric.get("mean") is None:
        return "–"
    ci = metric.get("ci95")
    return f"{metric['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def comparison_table(evaluate_dir: Path, audit_dirs: list[Path]) -> str:
    """Markdown: one row per evaluated run (audit columns where an audit of that run is given), then the
    real-data ceiling."""
    ev = _read(evaluate_dir / "metrics.json")
    audits = {}
    for d in audit_dirs:
        a = _read(d / "metrics.json")
        audits[Path(a["run_dir"]).resolve()] = leakage(a)
    head = ["run", "method", "guarantee", *(u for u, _ in UTILITY), "best attack AUC [95% CI]", "family-wise p"]
    head += ["TPR@1%FPR", "canaries leaked verbatim", "max exposure (bits)", "empirical ε (95% lower bound)"]
    lines = [f"| {' | '.join(head)} |", f"|{'---|' * len(head)}"]
    for m in ev["methods"]:
        synthetic = m["kind"] == "synthetic"
        run_dir = Path(m["run_dir"]).resolve() if synthetic else None
        cells = [m["name"], m.get("method", "–") if synthetic else "–"]
        cells.append(_guarantee(run_dir) if synthetic else "none: the private records themselves")
        cells += [_cell(m["metrics"].get(key)) for _, key in UTILITY]
        leak = audits.get(run_dir) if run_dir else None
        if leak is None:
            cells += ["–"] * 6
        else:
            exposure = "–" if leak.max_exposure is None else f"{leak.max_exposure:.1f}"
            cells += [
                f"{leak.auc:.3f} [{leak.auc_ci[0]:.3f}, {leak.auc_ci[1]:.3f}] ({leak.best_attack})",
                "–" if leak.family_p is None else f"{leak.family_p:.3f}",
                f"{leak.tpr_at_1pct:.3f}",
                f"{leak.canaries_leaked}/{leak.canaries}",
                exposure,
                "–" if leak.epsilon_empirical is None else f"{leak.epsilon_empirical:.2f}",
            ]
        lines.append(f"| {' | '.join(cells)} |")
    n = ev.get("sample_size_n")
    lines += [
        "",
        f"Utility: `rpsg evaluate` at n = {n} rows per run ({ev['interval']}); leakage: `rpsg audit`, the "
        "strongest attack among those that passed both controls with its family-wise p-value (max-T permutation "
        "over every attack), the highest TPR at 1% FPR among them, and the one-run empirical ε from the audit "
        "canaries (beside the guarantee; compared with it only where the guarantee covers the whole output).",
    ]
    return "\n".join(lines) + "\n"

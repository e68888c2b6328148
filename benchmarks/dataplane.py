"""dataplane: rows through the full plan with TRIVIALLY FAST engines (configs/dataplane.yaml: echo generator,
length "NLL", hashing embedder; not models), at growing sizes. Each size runs in its own process so the
driver's peak RSS is that run's. Target: driver peak RSS at the largest size ≤ 1.2× its value at the smallest.

    python benchmarks/dataplane.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def one(size: int, work: Path) -> dict[str, float]:
    import ray
    from common import PeakSampler

    from rpsg_ray.config import load_config
    from rpsg_ray.phases import peak_rss_mib
    from rpsg_ray.pipeline import generate

    corpus = work / f"corpus-{size}.parquet"  # written by the parent, so this process's RSS is the run's alone
    out = work / f"run-{size}"
    cfg = load_config(
        ROOT / "configs" / "dataplane.yaml", [f"input.path={corpus}", f"output_dir={out}", "runtime.progress=false"]
    )

    def store_used() -> float:
        total = ray.cluster_resources().get("object_store_memory", 0)
        return total - ray.available_resources().get("object_store_memory", total)

    start = time.time()
    with PeakSampler(store_used) as store:
        result = generate(cfg, overwrite=True)
    wall = time.time() - start
    return {
        "rows": size,
        "wall_s": wall,
        "rows_per_s": size / wall,
        "driver_peak_rss_mib": peak_rss_mib(),
        **{f"rss_after_{k}_mib": v for k, v in result.manifest["driver_peak_rss_mib"].items()},
        "object_store_peak_mib": store.peak / 2**20,
        "balanced": result.manifest["accounting"]["balanced"],
        "kept": result.counts.by_status["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-dataplane"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(one(args.one, work)))
        return
    from common import replicated_corpus, save

    rows = []
    for size in args.sizes:
        replicated_corpus(work / f"corpus-{size}.parquet", size)
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--work", str(work)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode != 0:
            sys.exit(f"size {size} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    ratio = rows[-1]["driver_peak_rss_mib"] / rows[0]["driver_peak_rss_mib"]
    print(
        save(
            "dataplane",
            {
                "engines": "trivially fast stand-ins (echo / length / hashing / keywords), not models",
                "corpus": "rotten_tomatoes snippets replicated with new stable ids",
                "target": "driver peak RSS at the largest size <= 1.2x the smallest",
                "verdict": f"ratio {ratio:.2f}: {'met' if ratio <= 1.2 else 'missed'}",
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()

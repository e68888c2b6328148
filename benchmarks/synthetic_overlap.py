"""synthetic_overlap: what makes a run's rows alike: near-duplicates, or shared stock phrasing?

Issue 31 lists dropping near-duplicate synthetic rows as a lever for Self-BLEU. Before building a stage for it,
this measures on finished runs (and a real split of the same size) whether there is anything to drop: pairs of
rows at MiniLM cosine >= 0.8 and 0.9, the mean cosine of each row to its nearest other row, Self-BLEU after a
greedy drop at 0.8 beside a random subset of the same size, and the share of rows that open with the set's most
common two words ("the movie"). Reads the runs' published synthetic.parquet only (no private data).

    python benchmarks/synthetic_overlap.py RUN_DIR [RUN_DIR ...] --real data/demo/rotten_tomatoes_test.parquet

Writes results/synthetic_overlap.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
THRESHOLDS = (0.8, 0.9)


def greedy_keep(similarity: np.ndarray, threshold: float) -> list[int]:
    """Rows kept when each row is dropped if it is at `threshold` or above with a row kept before it."""
    keep: list[int] = []
    for i in range(len(similarity)):
        if not keep or similarity[i, keep].max() < threshold:
            keep.append(i)
    return keep


def opening(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower())[:2])


def overlap(name: str, texts: list[str], embedder: Any) -> dict[str, Any]:
    from rpsg_ray.evaluation.diversity import self_bleu

    vectors = np.asarray(embedder.embed(texts))
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    keep = greedy_keep(similarity, THRESHOLDS[0])
    draw = random.Random(0)
    dropped = len(keep) < len(texts)  # else the kept set is the whole set: no subset to compare with
    same_n = float(np.mean([self_bleu(draw.sample(texts, len(keep))) for _ in range(3)])) if dropped else math.nan
    top, count = collections.Counter(map(opening, texts)).most_common(1)[0]
    return {
        "set": name,
        "rows": len(texts),
        **{f"pairs_cos_{t:g}": int((similarity >= t).sum() // 2) for t in THRESHOLDS},
        "nearest_cos_mean": float(similarity.max(axis=1).mean()),
        "kept_at_0.8": len(keep),
        "self_bleu_kept": self_bleu([texts[i] for i in keep]),
        "self_bleu_random_same_n": same_n,
        "top_opening": top,
        "top_opening_share": count / len(texts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (their synthetic.parquet)")
    parser.add_argument("--real", type=Path, help="a real split: as many of its rows beside each run")
    parser.add_argument("--embedder", default="all-minilm-l6-v2")
    args = parser.parse_args()
    from common import save

    from rpsg_ray.engines.registry import load_embedder

    started = time.time()
    embedder = load_embedder(args.embedder)
    real = pq.read_table(args.real).column("text").to_pylist() if args.real else []
    rows = []
    for run in args.runs:
        texts = pq.read_table(run / "synthetic.parquet").column("text").to_pylist()
        rows.append(overlap(f"{run.parent.name}/{run.name}", texts, embedder))
        if real:  # as many real rows: a larger set has closer nearest neighbours and a higher Self-BLEU
            rows.append(overlap(f"real data, first {len(texts)}", real[: len(texts)], embedder))
    print(
        save(
            "synthetic_overlap",
            {
                "setting": f"embedder {args.embedder}; greedy drop at cosine {THRESHOLDS[0]}; Self-BLEU of a random "
                "subset of the kept size: mean of 3 draws (none where nothing is dropped); each run beside as many "
                "rows of the real split",
                "verdict": f"measured in {time.time() - started:.0f} s",
                "note": "pairs_cos_t: pairs of rows at cosine >= t; nearest_cos_mean: each row's cosine to its "
                "nearest other row, averaged; top_opening: the most common first two words",
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()

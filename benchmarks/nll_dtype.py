"""nll_dtype: the NLL scorer (transformers, packaged SmolLM2-135M) in bfloat16 against float32, side by side on
the same texts and threads, alternating, on this machine's CPU. Ratio of seconds per pass, and how far the NLLs
of the two dtypes lie apart. It is what `dtype: auto` (engines/hardware.py) rests on: bf16 only where the CPU
computes it natively. Target: none; the figure is per CPU, and the machine line names it.

    python benchmarks/nll_dtype.py --texts 128 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import pyarrow.parquet as pq
    from common import save

    from rpsg_ray.demo_data import write_demo_corpus
    from rpsg_ray.engines.base import EngineSpec
    from rpsg_ray.engines.hardware import native_bf16, resolve_dtype
    from rpsg_ray.engines.registry import SMOLLM2, load_scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="runs/bench-nll-dtype")
    args = parser.parse_args()
    corpus = write_demo_corpus(Path(args.work) / "corpus.parquet", max(args.texts, 64))
    texts = pq.read_table(corpus, columns=["text"]).column("text").to_pylist()[: args.texts]
    scorers = {
        d: load_scorer(EngineSpec(kind="transformers", model=SMOLLM2, dtype=d, threads=args.threads))
        for d in ("float32", "bfloat16")
    }
    seconds: dict[str, list[float]] = {d: [] for d in scorers}
    nlls: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for dtype, scorer in scorers.items():  # alternating, so drift on the machine hits both alike
            scorer.nll(texts[:4])
            start = time.perf_counter()
            nlls[dtype] = scorer.nll(texts)
            seconds[dtype].append(time.perf_counter() - start)
    diff = [abs(a - b) for a, b in zip(nlls["bfloat16"], nlls["float32"], strict=True)]
    mean32 = statistics.mean(nlls["float32"])
    table = [
        {
            "dtype": d,
            "texts": args.texts,
            "min s": min(s),
            "median s": statistics.median(s),
            "mean NLL": statistics.mean(nlls[d]),
        }
        for d, s in seconds.items()
    ]
    speedup = min(seconds["float32"]) / min(seconds["bfloat16"])
    print(
        save(
            "nll_dtype",
            {
                "settings": vars(args),
                "speedup_bf16": speedup,
                "max_abs_nll_difference": max(diff),
                "native_bf16": native_bf16(),
                "auto_resolves_to": resolve_dtype("auto", on_gpu=False),
                "verdict": f"bf16 {speedup:.2f}x float32 (min of {args.repeats}); NLLs within {max(diff):.3f} "
                f"(mean {mean32:.2f}); auto -> {resolve_dtype('auto', on_gpu=False)}",
            },
            table,
        )
    )


if __name__ == "__main__":
    main()

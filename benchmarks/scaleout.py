"""scaleout: a CPU-bound real-model stage (MiniLM embeddings) on 1 vs 2 worker nodes of a
ray.cluster_utils.Cluster: one single-threaded actor per node (num_cpus=1, torch threads 1) and spare
logical CPUs on each node for read/write tasks. Ratio of rows/s; target >= 1.8x. Wall time includes
each actor's model load, which both settings pay once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


class EmbedOneThread:
    def __init__(self) -> None:
        from rpsg_ray.engines.registry import load_embedder

        self.embedder = load_embedder("all-minilm-l6-v2", threads=1)

    def __call__(self, batch: dict) -> dict:
        return {"dim": [v.shape[0] for v in self.embedder.embed(list(batch["text"]))]}


def one(nodes: int, rows: int) -> dict:
    import ray
    import ray.data
    from common import CpuProfile
    from ray.cluster_utils import Cluster

    from rpsg_ray.demo_data import write_demo_corpus
    from rpsg_ray.runtime import start_ray

    corpus = write_demo_corpus(ROOT / "runs" / "bench-scaleout" / "corpus.parquet", 12_000)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(nodes):
        cluster.add_node(num_cpus=3)  # one actor slot + spare CPUs for read tasks
    cluster.wait_for_nodes()
    start_ray(cluster.address, env={"OMP_NUM_THREADS": "1"})
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        ds = ray.data.read_parquet(str(corpus), columns=["text"]).limit(rows).repartition(target_num_rows_per_block=256)
        ds = ds.map_batches(
            EmbedOneThread,
            compute=ray.data.ActorPoolStrategy(size=nodes),
            num_cpus=1,
            batch_size=256,
            scheduling_strategy="SPREAD",
        )
        with CpuProfile() as cpu:  # includes each actor's model load (~3 s), the same on 1 and 2 nodes
            n = sum(len(b["dim"]) for b in ds.iter_batches(batch_size=None))
    finally:
        ray.shutdown()
        cluster.shutdown()
    profile = cpu.by_role()
    actors = sum(v for k, v in profile.items() if k.startswith("ray::MapWorker"))
    return {
        "worker_nodes": nodes,
        "rows": n,
        "seconds": cpu.wall,
        "rows_per_s": n / cpu.wall,
        "actor_cores": actors / cpu.wall,
        "all_cores": profile["cores_busy"],
        "profile_cpu_s": profile,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument(
        "--nodes", type=int, nargs="+", default=[1, 2], help="worker-node counts to run (the ratio needs 1 and 2)"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows)))
        return
    from common import save

    rows = []
    for nodes in args.nodes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(nodes), "--rows", str(args.rows)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    profiles = {f"{r['worker_nodes']} node(s)": r.pop("profile_cpu_s") for r in rows}
    speed = {r["worker_nodes"]: r["rows_per_s"] for r in rows}
    ratio = speed[2] / speed[1] if {1, 2} <= speed.keys() else None
    print(
        save(
            "scaleout",
            {
                "stage": "all-MiniLM-L6-v2 embeddings, 1 thread per actor",
                "target": "2 nodes >= 1.8x 1 node",
                "verdict": "no ratio: 1 and 2 nodes were not both run"
                if ratio is None
                else f"{ratio:.2f}x: {'met' if ratio >= 1.8 else 'missed'}",
                "note": "actor_cores / all_cores: CPU seconds per wall second of the actors / of every process "
                "of the Ray session (profile_cpu_s in the JSON splits them by role)",
                "profile_cpu_s": profiles,
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()

"""Run the pipeline on a two-worker-node ray.cluster_utils.Cluster and report which nodes ran stage actors.

Started by tests/test_multinode.py in a subprocess (a Cluster cannot share a process with the session runtime).
Usage: python tests/multinode_run.py CORPUS OUTDIR
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import ray
from ray.cluster_utils import Cluster

from rpsg_ray.config import load_config
from rpsg_ray.pipeline import generate
from rpsg_ray.runtime import engine_env

corpus, out = sys.argv[1], sys.argv[2]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
workers = [cluster.add_node(num_cpus=4) for _ in range(2)]
cluster.wait_for_nodes()
ray.init(address=cluster.address, runtime_env={"env_vars": engine_env()}, log_to_driver=False)
try:
    pools = [f"stages.{s}.resources.min_actors=2" for s in ("abstract", "rewrite", "nll_filter")]
    pools += [f"stages.{s}.resources.max_actors=2" for s in ("abstract", "rewrite", "nll_filter")]
    cfg = load_config(
        "configs/dataplane.yaml",
        [
            f"input.path={corpus}",
            f"output_dir={out}",
            "runtime.progress=false",
            "runtime.block_rows=128",
            *pools,
            "stages.abstract.resources.batch_size=64",
        ],
    )
    result = generate(cfg)
    nodes: dict[str, set[str]] = defaultdict(set)
    for actor in ray._private.state.actors().values():  # GCS actor table: no dashboard needed
        name = actor.get("ActorClassName", "")
        if "MapWorker" in name:
            nodes[name].add(actor["Address"]["NodeID"])
    worker_ids = {w.node_id for w in workers}
    print(
        json.dumps(
            {
                "balanced": result.manifest["accounting"]["balanced"],
                "kept": result.counts.by_status["ok"],
                "workers": sorted(worker_ids),
                "nodes_used": sorted(set().union(*nodes.values()) & worker_ids),
            }
        )
    )
finally:
    ray.shutdown()
    cluster.shutdown()

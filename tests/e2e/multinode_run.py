"""Run the pipeline on a two-worker-node ray.cluster_utils.Cluster and report how many rows each node processed.

Every model stage is wrapped in a subclass that stamps the rows it returns with its node id (a column
`node_<stage>` that the committed parts keep); the report counts, per node, the rows its stages
processed (a row counts once per stage). Test instrumentation only: the pipeline code is unchanged,
its stage classes are swapped for stamped ones through `rpsg_ray.methods.rpsg.stage_ops`.
Started by tests/e2e/test_multinode.py in a subprocess (a Cluster cannot share a process with the session runtime).
Usage: python tests/e2e/multinode_run.py CORPUS OUTDIR
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ray.cluster_utils import Cluster

from rpsg_ray import pipeline
from rpsg_ray.config import load_config
from rpsg_ray.methods import rpsg
from rpsg_ray.operators import StageOp
from rpsg_ray.rows import with_columns
from rpsg_ray.runtime import start_ray


def stamped(cls: type, name: str) -> type:
    class Stamped(cls):
        def __call__(self, batch: pa.Table) -> pa.Table:
            out = super().__call__(batch)
            node = ray.get_runtime_context().get_node_id()
            return with_columns(out, {f"node_{name}": pa.array([node] * out.num_rows, pa.string())})

    return Stamped


def stamped_stage_ops(*args: object, **kwargs: object) -> list[StageOp]:
    return [dataclasses.replace(op, cls=stamped(op.cls, op.name)) for op in original_stage_ops(*args, **kwargs)]


def rows_by_node(run_dir: Path) -> Counter[str]:
    """Rows per node id over all node_* columns of the committed parts (found wherever the layout puts them)."""
    counts: Counter[str] = Counter()
    for part in run_dir.rglob("part-*.parquet"):
        table = pq.read_table(part)
        for name in table.column_names:
            if name.startswith("node_"):
                counts.update(n for n in table.column(name).to_pylist() if n is not None)
    return counts


corpus, out = sys.argv[1], sys.argv[2]
original_stage_ops = rpsg.stage_ops
rpsg.stage_ops = stamped_stage_ops
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
workers = [cluster.add_node(num_cpus=4) for _ in range(2)]
cluster.wait_for_nodes()
start_ray(cluster.address, env={})
try:
    pools = [f"rpsg.{s}.resources.min_actors=2" for s in ("abstract", "rewrite", "nll_filter")]
    pools += [f"rpsg.{s}.resources.max_actors=2" for s in ("abstract", "rewrite", "nll_filter")]
    cfg = load_config(
        "configs/dataplane.yaml",
        [
            f"input.path={corpus}",
            f"output_dir={out}",
            "runtime.progress=false",
            "runtime.block_rows=128",
            *pools,
            "rpsg.abstract.resources.batch_size=64",
            "rpsg.share_generator=false",  # a pool per stage, so the abstract pool spans both nodes
        ],
    )
    result = pipeline.generate(cfg)
    print(
        json.dumps(
            {
                "balanced": result.manifest["accounting"]["balanced"],
                "kept": result.counts.by_status["ok"],
                "workers": sorted(w.node_id for w in workers),
                "rows_by_node": rows_by_node(Path(out)),
            }
        )
    )
finally:
    ray.shutdown()
    cluster.shutdown()

"""Build and run the streaming Ray Data plan. Wiring only: no model code here.

read units → parse+validate → mark (duplicates, seed sample, resume) → label → abstract → select
→ rewrite_1 → rewrite_2 → redact → quality → nll_filter → similarity_filter → committed Parquet parts,
then finalize (outputs, manifest, ledger, report). Before the stream: inventory (counts, duplicates,
seed sample), the privacy ledger (σ from ε, δ, N), then NLL bound calibration and the private index.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data

from rpsg_ray.baselines.rupta import RuptaRewrite
from rpsg_ray.config import Config, Resources, SimilarityFilterStage
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.finalize import RunCounts, finalize
from rpsg_ray.io.inventory import Inventory, MarkRows, only_ok, only_settled, take_inventory
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.parse import parse_units
from rpsg_ray.io.run_state import prepare_run_dir, write_state
from rpsg_ray.io.sink import CommittedParquetSink
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.phases import PhaseClock
from rpsg_ray.privacy.accountant import PrivacyParameterError
from rpsg_ray.privacy.keys import CALIBRATION_SAMPLE, RunKey
from rpsg_ray.privacy.ledger import Ledger, ledger_for
from rpsg_ray.runtime import engine_env, ray_runtime
from rpsg_ray.stages.abstract import Abstract
from rpsg_ray.stages.label import Label
from rpsg_ray.stages.nll_filter import NllFilter
from rpsg_ray.stages.private_index import EmbedRecords, index_embeddings
from rpsg_ray.stages.quality import Quality
from rpsg_ray.stages.redact import Redact
from rpsg_ray.stages.rewrite import Rewrite
from rpsg_ray.stages.select import Select
from rpsg_ray.stages.similarity_filter import SimilarityFilter

log = logging.getLogger("rpsg_ray")


@dataclass(frozen=True)
class StageOp:
    """One map_batches operator: a callable class, its constructor kwargs and its resources."""

    name: str
    cls: type
    kwargs: dict[str, Any]
    resources: Resources


@dataclass
class RunResult:
    run_dir: Path
    counts: RunCounts
    ledger: Ledger
    manifest: dict[str, Any]


def apply(ds: ray.data.Dataset, op: StageOp, threads: int | None = None) -> ray.data.Dataset:
    """Add one actor-pool operator. `threads` overrides the 1-thread default Ray gives 1-CPU actors.
    The pool bundles small input blocks up to batch_size rows, so one task is about one batch."""
    r = op.resources
    env = actor_env(threads, r.num_gpus)
    return ds.map_batches(
        op.cls,
        fn_constructor_kwargs=op.kwargs,
        compute=ray.data.ActorPoolStrategy(min_size=r.min_actors, max_size=r.max_actors),
        num_cpus=r.num_cpus,
        num_gpus=r.num_gpus or None,
        batch_size=r.batch_size,
        batch_format="pyarrow",
        runtime_env={"env_vars": env},
    )


def actor_env(threads: int | None, num_gpus: float = 0.0) -> dict[str, str]:
    """The engine environment of a model actor; `threads` overrides the 1 OpenMP thread Ray gives 1-CPU actors."""
    env = engine_env(num_gpus)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_stages(ds: ray.data.Dataset, ops: list[StageOp]) -> ray.data.Dataset:
    """The model stages over live rows. One repartition up front cuts the rows into blocks of the smallest
    batch size, so every stage works on a different block at once (pipelining) rather than one actor
    holding a large block. Only one repartition: a task-based operator between every pair of actor pools
    holds a CPU each and, at scale, starves the downstream ones of Ray Data's budget."""
    ds = ds.repartition(target_num_rows_per_block=min(op.resources.batch_size for op in ops))
    for op in ops:
        ds = apply(ds, op, _threads(op))
    return ds


def read_rows(cfg: Config, units: list) -> ray.data.Dataset:
    items = [u.as_item() for u in units]
    return ray.data.from_items(items, override_num_blocks=max(1, len(items))).map_batches(
        parse_units,
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=cfg.runtime.read_num_cpus,
        fn_kwargs={"block_rows": cfg.runtime.block_rows},
    )


def _keyed_sample(batch: pa.Table, key: RunKey, threshold: int) -> pa.Table:
    ranks = np.array([key.rank(CALIBRATION_SAMPLE, i) for i in batch.column("id").to_pylist()], dtype=np.int64)
    return batch.filter(pa.array(ranks < threshold))


@ray.remote
def _calibrate_nll(cfg: Config, valid: ray.data.Dataset, n_valid: int, key: RunKey) -> dict[str, Any]:
    """Absolute NLL bounds: from the config, or quantiles of NLLs of a private sample (computed once).

    The sample is a keyed Bernoulli sample (each valid record kept with probability sample_size / N by
    its secret rank), so it is uniform over the corpus, not its first rows, and its size is about
    sample_size."""
    f = cfg.stages.nll_filter
    if f.lo is not None and f.hi is not None:
        return {"lo": f.lo, "hi": f.hi, "source": "config"}
    c = f.calibration
    threshold = int(min(1.0, c.sample_size / max(n_valid, 1)) * 2**63 - 1)
    sample = valid.map_batches(_keyed_sample, fn_kwargs={"key": key, "threshold": threshold}, batch_format="pyarrow")
    op = StageOp("nll_calibration", NllFilter, {"cfg": f, "bounds": None, "column": "text"}, f.resources)
    rows = apply(sample, op).select_columns(["nll"]).take_all()  # the sample only
    nlls = np.array([r["nll"] for r in rows if r["nll"] is not None and r["nll"] == r["nll"]], dtype=float)
    if not len(nlls):
        raise InputError("NLL calibration found no scorable records")
    lo = f.lo if f.lo is not None else float(np.quantile(nlls, c.lo_quantile) * c.lo_scale)
    hi = f.hi if f.hi is not None else float(np.quantile(nlls, c.hi_quantile) * c.hi_scale)
    quantiles = {str(q): float(np.quantile(nlls, q)) for q in (0.0, 0.05, 0.5, 0.95, 1.0)}
    return {
        "lo": lo,
        "hi": hi,
        "source": "calibrated on a keyed random sample of private records",
        "calibration": {"n": len(nlls), "quantiles": quantiles, **c.model_dump()},
    }


@dataclass(frozen=True)
class PrivateIndex:
    """Object refs of the index shards (in the object store, never on the driver) and of its small report."""

    shards: list[ray.ObjectRef]
    report: ray.ObjectRef


def build_index(cfg: Config, valid: ray.data.Dataset) -> PrivateIndex:
    """Embed every valid private record once and index it (FAISS; tuned and recall-measured when approximate)."""
    s = cfg.stages.similarity_filter
    embedded = apply(valid, StageOp("private_index", EmbedRecords, {"embedder": s.embedder}, s.resources))
    task = ray.remote(index_embeddings).options(num_cpus=cfg.runtime.read_num_cpus, num_returns=s.index.shards + 1)
    *shards, report = task.remote(embedded, s, cfg.runtime.seed)
    return PrivateIndex(shards, report)


def similarity_ops(cfg: SimilarityFilterStage, index: PrivateIndex) -> list[StageOp]:
    """One filter operator per shard, chained; each actor fetches its shard from the object store on start."""
    return [
        StageOp(
            f"similarity_filter_{n}",
            SimilarityFilter,
            {"cfg": cfg, "shard": functools.partial(ray.get, ref)},
            cfg.resources,
        )
        for n, ref in enumerate(index.shards)
    ]


def stage_ops(cfg: Config, sigma: float, bounds: dict[str, Any], index: PrivateIndex, key: RunKey) -> list[StageOp]:
    """The model stages in order, the similarity filter last (one operator per index shard). The secret key
    travels to the actors inside the cluster (constructor arguments), never to outputs."""
    st, dom = cfg.stages, cfg.domain
    return [
        StageOp("label", Label, {"cfg": st.label}, st.label.resources),
        StageOp("abstract", Abstract, {"cfg": st.abstract, "domain": dom, "key": key}, st.abstract.resources),
        StageOp(
            "select",
            Select,
            {"cfg": st.select, "sigma": sigma, "abstract": st.abstract, "domain": dom, "key": key},
            st.select.resources,
        ),
        StageOp(
            "rewrite_1",
            Rewrite,
            {"cfg": st.rewrite, "domain": dom, "key": key, "pass_index": 1},
            st.rewrite.resources,
        ),
        StageOp(
            "rewrite_2",
            Rewrite,
            {"cfg": st.rewrite, "domain": dom, "key": key, "pass_index": 2},
            st.rewrite.resources,
        ),
        StageOp("redact", Redact, {"cfg": st.redact, "domain": dom}, st.redact.resources),
        StageOp(
            "quality",
            Quality,
            {"cfg": st.quality, "domain": dom, "length_tolerance": st.rewrite.length_tolerance},
            st.quality.resources,
        ),
        StageOp(
            "nll_filter",
            NllFilter,
            {"cfg": st.nll_filter, "bounds": bounds},
            st.nll_filter.resources,
        ),
        *similarity_ops(st.similarity_filter, index),
    ]


def rpsg_plan(
    cfg: Config, valid: ray.data.Dataset, n_valid: int, ledger: Ledger, key: RunKey
) -> tuple[list[StageOp], dict[str, Any]]:
    """RPSG's stages, after the private index and the NLL bounds are built (side by side) before the stream
    starts. Were they built during it, the filter actors would block in their constructors while every
    upstream stage fills its output queue; at scale that exhausts Ray Data's object-store budget and stalls
    the plan. The driver fetches the index's small report, never the index."""
    index = build_index(cfg, valid)
    bounds_ref = _calibrate_nll.options(num_cpus=cfg.runtime.read_num_cpus).remote(cfg, valid, n_valid, key)
    index_report, bounds = ray.get([index.report, bounds_ref])  # small: the index itself stays in the store
    similarity = {"max_cosine": cfg.stages.similarity_filter.threshold, **index_report}  # index kind, measured recall
    return stage_ops(cfg, ledger.sigma, bounds, index, key), {"nll_filter": bounds, "similarity_filter": similarity}


def rupta_plan(
    cfg: Config, valid: ray.data.Dataset, n_valid: int, ledger: Ledger, key: RunKey
) -> tuple[list[StageOp], dict[str, Any]]:
    """RUPTA: label the seeds where the input has no label, then the rewrite/evaluate rounds; nothing to build."""
    st = cfg.stages
    return [
        StageOp("label", Label, {"cfg": st.label}, st.label.resources),
        StageOp("rupta", RuptaRewrite, {"cfg": cfg.rupta, "domain": cfg.domain, "key": key}, cfg.rupta.resources),
    ], {}


PLANS = {"rpsg": rpsg_plan, "rupta": rupta_plan}


def generate(cfg: Config, resume: bool = False, overwrite: bool = False, address: str | None = None) -> RunResult:
    """Run the whole job (RPSG, or RUPTA on the same plan); returns counts, the ledger and the manifest."""
    from rpsg_ray.manifest import build_manifest, write_outputs

    started = time.time()
    layout = RunLayout(Path(cfg.output_dir))
    units = plan_read_units(cfg.input)  # file-level problems fail here, before any Ray work
    digest = cfg.digest()
    done, resumed, key = prepare_run_dir(layout, digest, resume, overwrite)
    clock = PhaseClock()
    with ray_runtime(cfg.runtime, address):
        clock.start()
        parsed = read_rows(cfg, units)
        inventory = take_inventory(parsed, key, cfg.input.seeds)
        if inventory.valid_unique == 0:
            raise InputError(f"{cfg.input.path}: no valid records ({inventory.input_rows} rows, all quarantined)")
        clock.done("inventory")
        try:
            ledger = ledger_for(cfg, cfg.method, inventory.valid_unique)
        except PrivacyParameterError as e:
            raise ConfigError(str(e)) from None
        unsampled = Inventory(inventory.input_rows, inventory.valid_unique, inventory.duplicates)
        valid = parsed.map_batches(MarkRows(unsampled, key), batch_format="pyarrow").map_batches(
            only_ok, batch_format="pyarrow"
        )
        ops, thresholds = PLANS[cfg.method](cfg, valid, inventory.valid_unique, ledger, key)
        clock.done("index_and_calibration")
        marked = parsed.map_batches(MarkRows(inventory, key, done), batch_format="pyarrow")
        # Rows that are already settled (quarantined, not sampled) skip the model stages, so model
        # batches hold only live rows; the two branches partition the input by status.
        ds = run_stages(marked.map_batches(only_ok, batch_format="pyarrow"), ops)
        settled = marked.map_batches(only_settled, batch_format="pyarrow")
        ds.union(settled).write_datasink(CommittedParquetSink(str(layout.parts)))
        clock.done("stream")
    clock.start()
    counts = finalize(layout, key)
    clock.done("finalize")
    manifest = build_manifest(cfg, inventory, counts, thresholds, ledger, clock, time.time() - started, resumed)
    write_outputs(cfg, layout, manifest, ledger, counts)
    write_state(layout, digest, "complete")
    return RunResult(layout.root, counts, ledger, manifest)


def _threads(op: StageOp) -> int | None:
    engine = getattr(op.kwargs.get("cfg"), "engine", None)
    return engine.threads if engine is not None else None

"""RPSG (this project): per seed, K public-model abstractions, a noisy choice among them, two guarded
rewrites, redaction, the quality check, and the NLL and similarity filters against the private corpus.

Before the stream: NLL bounds calibrated on a keyed sample of private records and the private index
(FAISS shards in the object store), built side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data

from rpsg_ray.config import Config, SimilarityFilterConfig
from rpsg_ray.errors import InputError
from rpsg_ray.methods.base import Method, PerRecord, RunContext
from rpsg_ray.methods.common import surrogate_ops
from rpsg_ray.methods.prepare import prepare_ops
from rpsg_ray.methods.private_index import EmbedRecords, index_embeddings
from rpsg_ray.operators import StageOp, apply, fuse, shared, widest
from rpsg_ray.privacy.keys import CALIBRATION_SAMPLE, RunKey
from rpsg_ray.privacy.ledger import rpsg_ledger
from rpsg_ray.stages.abstract import Abstract
from rpsg_ray.stages.copy_guard import CopyGuard
from rpsg_ray.stages.nll_filter import NllFilter
from rpsg_ray.stages.quality import Quality
from rpsg_ray.stages.redact import Redact
from rpsg_ray.stages.rewrite import Rewrite
from rpsg_ray.stages.select import Select
from rpsg_ray.stages.similarity_filter import SimilarityFilter


def _keyed_sample(batch: pa.Table, key: RunKey, threshold: int) -> pa.Table:
    ranks = np.array([key.rank(CALIBRATION_SAMPLE, i) for i in batch.column("id").to_pylist()], dtype=np.int64)
    return batch.filter(pa.array(ranks < threshold))


@ray.remote
def _calibrate_nll(cfg: Config, valid: ray.data.Dataset, n_valid: int, key: RunKey) -> dict[str, Any]:
    """Absolute NLL bounds: from the config, or quantiles of NLLs of a private sample (computed once).

    The sample is a keyed Bernoulli sample (each valid record kept with probability sample_size / N by
    its secret rank), so it is uniform over the corpus, not its first rows, and its size is about
    sample_size."""
    f = cfg.rpsg.nll_filter
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
    s = cfg.rpsg.similarity_filter
    embedded = apply(valid, StageOp("private_index", EmbedRecords, {"embedder": s.embedder}, s.resources))
    task = ray.remote(index_embeddings).options(num_cpus=cfg.runtime.read_num_cpus, num_returns=s.index.shards + 1)
    *shards, report = task.remote(embedded, s, cfg.runtime.seed)
    return PrivateIndex(shards, report)


def similarity_ops(cfg: SimilarityFilterConfig, index: PrivateIndex) -> list[StageOp]:
    """One filter operator per shard, chained; each actor fetches its shard from the object store on start."""
    return [
        StageOp(
            f"similarity_filter_{n}",
            SimilarityFilter,
            {"cfg": cfg, "shard": shared(ref)},
            cfg.resources,
        )
        for n, ref in enumerate(index.shards)
    ]


def publish_ops(cfg: Config, key: RunKey) -> list[StageOp]:
    """Redact, guard the copy, stand-ins for the tags (where on), judge the quality: one pool for them where
    `stages.fuse_light_stages`."""
    st, dom = cfg.stages, cfg.domain
    publish = [
        StageOp("redact", Redact, {"cfg": st.redact, "domain": dom, "column": "rewrite_2"}, st.redact.resources),
        StageOp("copy_guard", CopyGuard, {"cfg": st.copy_guard, "domain": dom}, st.copy_guard.resources),
        *surrogate_ops(cfg, key),
        StageOp(
            "quality",
            Quality,
            {"cfg": st.quality, "domain": dom, "length_tolerance": cfg.rpsg.rewrite.length_tolerance},
            st.quality.resources,
        ),
    ]
    if st.fuse_light_stages:
        return [fuse("publish", publish, widest(publish, st.redact.resources.batch_size))]
    return publish


def stage_ops(cfg: Config, sigma: float, bounds: dict[str, Any], index: PrivateIndex, key: RunKey) -> list[StageOp]:
    """The model stages in order, the similarity filter last (one operator per index shard). The secret key
    travels to the actors inside the cluster (constructor arguments), never to outputs. Abstract, select and
    the rewrites share one pool and one engine where the config allows (`rpsg.share_generator`); every stage
    shares one pool where `stages.fuse_all_stages`."""
    r, dom = cfg.rpsg, cfg.domain
    generation = [
        StageOp("abstract", Abstract, {"cfg": r.abstract, "domain": dom, "key": key}, r.abstract.resources),
        StageOp(
            "select",
            Select,
            {"cfg": r.select, "sigma": sigma, "abstract": r.abstract, "domain": dom, "key": key},
            r.select.resources,
        ),
        StageOp(
            "rewrite_1",
            Rewrite,
            {"cfg": r.rewrite, "domain": dom, "key": key, "pass_index": 1, "source": "abstraction"},
            r.rewrite.resources,
        ),
        StageOp(
            "rewrite_2",
            Rewrite,
            {"cfg": r.rewrite, "domain": dom, "key": key, "pass_index": 2, "source": "rewrite_1"},
            r.rewrite.resources,
        ),
    ]
    if r.share_generator and r.abstract.engine == r.rewrite.engine:
        generation = [fuse("generate", generation, r.rewrite.resources)]
    ops = [
        *prepare_ops(cfg),
        *generation,
        *publish_ops(cfg, key),
        StageOp(
            "nll_filter",
            NllFilter,
            {"cfg": r.nll_filter, "bounds": bounds},
            r.nll_filter.resources,
        ),
        *similarity_ops(r.similarity_filter, index),
    ]
    if cfg.stages.fuse_all_stages:
        return [fuse("stream", ops, widest(ops, r.rewrite.resources.batch_size))]
    return ops


def rpsg_plan(ctx: RunContext) -> PerRecord:
    """RPSG's stages, after the private index and the NLL bounds are built (side by side) before the stream
    starts. Were they built during it, the filter actors would block in their constructors while every
    upstream stage fills its output queue; at scale that exhausts Ray Data's object-store budget and stalls
    the plan. The driver fetches the index's small report, never the index."""
    cfg, corpus = ctx.cfg, ctx.corpus
    valid = corpus.records()
    index = build_index(cfg, valid)
    bounds_ref = _calibrate_nll.options(num_cpus=cfg.runtime.read_num_cpus).remote(
        cfg, valid, corpus.n_records, corpus.key
    )
    index_report, bounds = ray.get([index.report, bounds_ref])  # small: the index itself stays in the store
    similarity = {"max_cosine": cfg.rpsg.similarity_filter.threshold, **index_report}  # index kind, measured recall
    return PerRecord(
        stage_ops(cfg, corpus.ledger.sigma, bounds, index, corpus.key),
        {"nll_filter": bounds, "similarity_filter": similarity},
    )


RPSG = Method(
    name="rpsg",
    title="RPSG",
    summary="private seeds, public LLM: abstract, select noisily, rewrite, filter (this project)",
    ledger=rpsg_ledger,
    plan=rpsg_plan,
)

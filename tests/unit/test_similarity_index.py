"""The private similarity index: approximate search with re-check drops exactly what exact search drops,
recall is measured on planted near-duplicates, and the device the config picks runs the same code on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from rpsg_ray.config import SimilarityFilterConfig, SimilarityIndex, load_config
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.rows import ROW_SCHEMA
from rpsg_ray.similarity.build import build_shards, factory_string
from rpsg_ray.similarity.device import resolve
from rpsg_ray.similarity.recall import exact_pairs, planted_probes
from rpsg_ray.similarity.search import FaissFlat, make_searcher, max_similarity, pairs_above
from rpsg_ray.similarity.shard import IndexShard
from rpsg_ray.stages.similarity_filter import SimilarityFilter

ROOT = Path(__file__).resolve().parents[2]
DIM, THRESHOLD = 384, 0.9


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def at_cosine(base: np.ndarray, cos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    turn = rng.standard_normal(base.shape)
    turn = unit(turn - (turn * base).sum(axis=1, keepdims=True) * base)
    return unit(cos[:, None] * base + np.sqrt(1 - cos[:, None] ** 2) * turn)


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    """4,000 private vectors in 40 topics, and queries planted around the threshold: half within ±0.002
    of it (where fp16 or PQ scores alone would decide wrongly), half anywhere in [0.8, 1]."""
    rng = np.random.default_rng(7)
    topics = unit(rng.standard_normal((40, DIM)))
    private = at_cosine(topics[rng.integers(0, 40, 4000)], rng.uniform(0.3, 0.7, 4000), rng)
    origin = private[rng.choice(4000, 400, replace=False)]
    cos = np.concatenate([THRESHOLD + rng.uniform(-0.002, 0.002, 200), rng.uniform(0.8, 1.0, 200)])
    return private, at_cosine(origin, cos, rng)


ROUNDING = 1e-5
"""Two float32 dot products of 384 terms (BLAS here, numpy's einsum in the re-check; each picks its kernels by
CPU) agree to about 1e-7: a query closer than this to the threshold may fall on either side on another CPU."""


def exact_drops(private: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which queries exact search drops, and which lie far enough from the threshold for that to be exact."""
    best = (queries @ private.T).max(axis=1)
    return best > THRESHOLD, np.abs(best - THRESHOLD) > ROUNDING


@pytest.mark.parametrize(
    "index",
    [
        SimilarityIndex(kind="ivf", storage="fp16"),
        SimilarityIndex(kind="hnsw", storage="fp16", ef_search=4),
        SimilarityIndex(kind="ivf", storage="fp32", nprobe=1),
    ],
    ids=["ivf-fp16", "hnsw-fp16", "ivf-fp32"],
)
def test_approximate_search_with_recheck_drops_exactly_what_exact_search_drops(
    corpus: tuple[np.ndarray, np.ndarray], index: SimilarityIndex
) -> None:
    private, queries = corpus
    cfg = SimilarityFilterConfig(threshold=THRESHOLD, index=index)
    (shard,), report = build_shards(private, cfg, seed=1)
    sims = max_similarity(make_searcher(shard, index, 0, 1024), shard.vectors, queries, THRESHOLD, index.margin, 16)
    expected, decided = exact_drops(private, queries)
    assert 100 < expected.sum() < 300 and decided.sum() >= 390  # both sides of the threshold are exercised
    np.testing.assert_array_equal((sims > THRESHOLD)[decided], expected[decided])
    assert report["recall"] >= 0.999 and report["index"] == index.kind and shard.params


def test_factory_strings_follow_kind_and_storage() -> None:
    assert factory_string(SimilarityIndex(kind="ivf", storage="pq", pq_m=48), 1_000_000) == "IVF2000,PQ48"
    assert factory_string(SimilarityIndex(kind="ivf"), 1000) == "IVF25,SQfp16"  # at most N/39 cells
    assert factory_string(SimilarityIndex(kind="hnsw", storage="fp32", hnsw_m=16), 10) == "HNSW16,Flat"


def test_recall_counts_every_above_threshold_pair_even_beyond_the_first_candidates() -> None:
    rng = np.random.default_rng(3)
    private = unit(rng.standard_normal((2000, DIM)))
    private[100:160] = private[99]  # 61 copies of one record: more than the 16 candidates fetched first
    probes = planted_probes(private, THRESHOLD, 200, rng)
    cfg = SimilarityFilterConfig(threshold=THRESHOLD, index=SimilarityIndex(kind="ivf", storage="fp32"))
    (shard,), report = build_shards(private, cfg, seed=1)
    truth = exact_pairs(probes, private, THRESHOLD, block_rows=512)
    searcher = make_searcher(shard, cfg.index, 0, 512)
    found = pairs_above(searcher, private, probes, THRESHOLD, 0.05, 16)
    cos = {(q, p): float(probes[q] @ private[p]) for q, p in found ^ truth}
    assert all(abs(c - THRESHOLD) <= ROUNDING for c in cos.values())  # only a pair on the threshold may differ
    assert len(truth) > len(probes)  # the copies make some probes match 61 records
    assert report["recall_lower_bound_95"] >= 0.999 and "above-threshold pairs" in report["recall_source"]


def test_exact_index_is_the_vectors_and_reports_recall_one(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    private, queries = corpus
    (shard,), report = build_shards(private, SimilarityFilterConfig(threshold=THRESHOLD), seed=1)
    assert shard.blob is None and report["recall"] == 1.0
    sims = max_similarity(FaissFlat(shard.vectors), shard.vectors, queries, THRESHOLD, 0.05, 16)
    np.testing.assert_allclose(sims, (queries @ private.T).max(axis=1), atol=1e-5)


def test_device_follows_the_stages_gpus_and_the_faiss_build() -> None:
    exact, ivf = SimilarityIndex(), SimilarityIndex(kind="ivf")
    assert resolve(exact, 0.0, gpus_in_faiss=0) == ("faiss", "cpu")
    assert resolve(exact, 0.25, gpus_in_faiss=0) == ("torch", "cuda")
    assert resolve(exact, 0.25, gpus_in_faiss=1) == ("faiss", "cuda")
    assert resolve(ivf, 0.25, gpus_in_faiss=1) == ("faiss", "cuda")
    assert resolve(ivf, 0.25, gpus_in_faiss=0) == ("faiss", "cpu")  # no GPU FAISS: the IVF index stays on CPU
    assert resolve(SimilarityIndex(device="cpu"), 1.0, gpus_in_faiss=1) == ("faiss", "cpu")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("gpu*.yaml")), ids=lambda p: p.name)
def test_gpu_configs_validate_and_put_the_filter_on_the_gpu(path: Path) -> None:
    stage = load_config(path).rpsg.similarity_filter
    assert stage.resources.num_gpus > 0
    assert resolve(stage.index, stage.resources.num_gpus, gpus_in_faiss=0) == ("torch", "cuda")
    assert resolve(stage.index, stage.resources.num_gpus, gpus_in_faiss=1) == ("faiss", "cuda")


def rows(outputs: list[str]) -> pa.Table:
    base = [
        {
            "id": f"o{n}",
            "text": "s",
            "label": None,
            "source": "f",
            "pos": n,
            "status": "ok",
            "stage": None,
            "reason": None,
        }
        for n in range(len(outputs))
    ]
    return pa.Table.from_pylist(base, schema=ROW_SCHEMA).append_column("synthetic_text", pa.array(outputs))


PRIVATE = [
    f"record {n} about the film, its cast and its {w} ending" for n, w in enumerate(["sad", "odd", "great"] * 20)
]
OUTPUTS = [PRIVATE[3], "a quiet documentary about bees", PRIVATE[40] + " indeed", "record about the film"]


def run_filter(cfg: SimilarityFilterConfig, shards: list[IndexShard]) -> pa.Table:
    out = rows(OUTPUTS)
    for shard in shards:
        out = SimilarityFilter(cfg, lambda shard=shard: shard)(out)
    return out


def test_torch_search_on_cpu_is_the_gpu_code_path_and_matches_faiss() -> None:
    vectors = load_embedder("hashing").embed(PRIVATE)
    faiss_cfg = SimilarityFilterConfig(embedder="hashing", threshold=0.8)
    torch_cfg = faiss_cfg.model_copy(update={"index": SimilarityIndex(backend="torch", device="cpu"), "block_rows": 7})
    by_faiss, by_torch = run_filter(faiss_cfg, [IndexShard(vectors)]), run_filter(torch_cfg, [IndexShard(vectors)])
    assert by_torch.column("status").to_pylist() == ["dropped", "ok", "dropped", "ok"]
    assert by_torch.column("status") == by_faiss.column("status")
    np.testing.assert_allclose(by_torch.column("max_similarity"), by_faiss.column("max_similarity"), atol=1e-5)


def test_sharded_filter_chain_equals_one_shard() -> None:
    vectors = load_embedder("hashing").embed(PRIVATE)
    cfg = SimilarityFilterConfig(embedder="hashing", threshold=0.8)
    whole = run_filter(cfg, [IndexShard(vectors)])
    split = run_filter(cfg, [IndexShard(vectors[:30]), IndexShard(vectors[30:])])  # OUTPUTS[0] / [2] in each half
    assert split.column("status") == whole.column("status")
    sims, exact = np.array(split.column("max_similarity")), np.array(whole.column("max_similarity"))
    np.testing.assert_allclose(sims[[1, 3]], exact[[1, 3]], atol=1e-6)  # kept rows: the max over both shards
    assert (sims[[0, 2]] > 0.8).all()  # a row dropped by the first shard keeps that shard's (above-threshold) max
    assert split.column("stage").to_pylist() == ["similarity_filter", None, "similarity_filter", None]
    assert split.column("sec_similarity_filter").null_count == 0

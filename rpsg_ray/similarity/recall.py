"""Recall of an approximate index, measured where it matters: pairs above the threshold. The probes are
planted near-duplicates (a seeded sample of private vectors, each turned by a random angle whose cosine
lies in [threshold, 1]), and their above-threshold pairs are found by exact search; the index, with
re-check, must find min_recall of them with 95% confidence (the one-sided Clopper–Pearson lower bound, so
a small sample cannot pass by luck: with no miss it takes about 3,000 pairs to show 99.9%). The search knob
(nprobe / efSearch) doubles until it does."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
from scipy.stats import beta

from rpsg_ray.config import SimilarityFilterConfig
from rpsg_ray.errors import InputError
from rpsg_ray.similarity.search import FaissApproximate, pairs_above
from rpsg_ray.similarity.shard import search_parameter


def planted_probes(vectors: np.ndarray, threshold: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit queries at a cosine drawn uniformly from [threshold, 1] to sampled (unit) private vectors."""
    base = vectors[rng.choice(len(vectors), size=count, replace=count > len(vectors))]  # small corpora: reuse
    turn = rng.standard_normal(base.shape).astype(np.float32)
    turn -= (turn * base).sum(axis=1, keepdims=True) * base
    turn /= np.maximum(np.linalg.norm(turn, axis=1, keepdims=True), 1e-9)
    cos = rng.uniform(max(threshold, 0.0), 1.0, size=(len(base), 1)).astype(np.float32)
    return np.ascontiguousarray(cos * base + np.sqrt(1 - cos**2) * turn, dtype=np.float32)


def exact_pairs(queries: np.ndarray, vectors: np.ndarray, threshold: float, block_rows: int) -> set[tuple[int, int]]:
    """Every (query, row) pair whose cosine exceeds the threshold, by blocked exhaustive search."""
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(vectors), block_rows):
        q, r = np.nonzero(queries @ vectors[start : start + block_rows].T > threshold)
        pairs.update(zip(q.tolist(), (r + start).tolist(), strict=True))
    return pairs


def recall_lower_bound(found: int, pairs: int, confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on recall after finding `found` of `pairs` (1.0 when there are none)."""
    return float(beta.ppf(1 - confidence, found, pairs - found + 1)) if pairs and found else float(not pairs)


def tune(
    index: faiss.Index, vectors: np.ndarray, cfg: SimilarityFilterConfig, rng: np.random.Generator
) -> tuple[str, dict[str, Any]]:
    """The smallest doubling of the search knob that reaches min_recall; its parameter string and figures."""
    ix = cfg.index
    probes = planted_probes(vectors, cfg.threshold, ix.recall_sample, rng)
    truth = exact_pairs(probes, vectors, cfg.threshold, cfg.block_rows)
    knob, limit = search_parameter(index)
    value = min(ix.nprobe if knob == "nprobe" else ix.ef_search, limit)
    while True:
        params = f"{knob}={value}"
        faiss.ParameterSpace().set_index_parameters(index, params)
        found = pairs_above(FaissApproximate(index), vectors, probes, cfg.threshold, ix.margin, ix.candidates)
        recall = recall_lower_bound(len(found & truth), len(truth))
        if recall >= ix.min_recall or value >= limit:
            break
        value = min(value * 2, limit)
    if recall < ix.min_recall:
        raise InputError(
            f"similarity index: recall ≥ {recall:.4f} (95% bound, {len(truth)} pairs) < min_recall {ix.min_recall} "
            f"even at {params}; raise similarity_filter.index.margin or recall_sample, or use kind=exact"
        )
    return params, {"pairs": len(truth), "found": len(found & truth), "probes": len(probes), knob: value}

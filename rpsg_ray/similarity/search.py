"""Search one shard of the private index. Approximate candidates are re-checked against the full-precision
vectors, and a query is searched again with more candidates while its last one still scores within the
margin of the threshold: every stored vector the index scores at or above threshold − margin is re-checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import faiss
import numpy as np

from rpsg_ray.config import SimilarityIndex
from rpsg_ray.similarity.device import resolve
from rpsg_ray.similarity.shard import IndexShard

WIDEN = 4  # candidates grow by this factor per extra round


class Searcher(Protocol):
    exact: bool  # scores are exact inner products (no re-check needed)
    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class FaissFlat:
    """Exact: FAISS's blocked BLAS search straight over the shared vectors (no copy into an index)."""

    exact = True

    def __init__(self, vectors: np.ndarray, gpu: Any = None) -> None:
        self.vectors, self.ntotal, self.gpu = vectors, len(vectors), gpu

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.gpu is not None:
            return faiss.knn_gpu(self.gpu, queries, self.vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        return faiss.knn(queries, self.vectors, k, metric=faiss.METRIC_INNER_PRODUCT)


class FaissApproximate:
    """An IVF or HNSW index (fp32, fp16 or PQ storage): fast, quantised scores, candidates to re-check."""

    exact = False

    def __init__(self, index: faiss.Index, gpu: Any = None) -> None:
        self.index = faiss.index_cpu_to_gpu(gpu, 0, index) if gpu is not None else index
        self.ntotal = index.ntotal

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(queries, k)


class TorchFlat:
    """Exact search as blocked matmuls on a torch device: CUDA on a GPU node whose FAISS has no GPU support;
    the same code runs on the CPU."""

    exact = True

    def __init__(self, vectors: np.ndarray, device: str, block_rows: int) -> None:
        import torch  # only here: a CPU node never loads torch's CUDA runtime for the filter

        self.torch, self.ntotal, self.block_rows = torch, len(vectors), block_rows
        self.vectors = torch.tensor(np.asarray(vectors), dtype=torch.float32, device=device)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        q = torch.as_tensor(queries, device=self.vectors.device)
        scores = torch.empty((len(q), 0), device=q.device)
        ids = torch.empty((len(q), 0), dtype=torch.long, device=q.device)
        for start in range(0, self.ntotal, self.block_rows):
            block = q @ self.vectors[start : start + self.block_rows].T
            top = block.topk(min(k, block.shape[1]), dim=1)
            scores, order = torch.cat([scores, top.values], 1).topk(min(k, scores.shape[1] + block.shape[1]), dim=1)
            ids = torch.cat([ids, top.indices + start], 1).gather(1, order)
        return scores.cpu().numpy(), ids.cpu().numpy()


def make_searcher(shard: IndexShard, cfg: SimilarityIndex, num_gpus: float, block_rows: int) -> Searcher:
    """The searcher the config asks for, on the device it resolves to."""
    backend, device = resolve(cfg, num_gpus)
    if backend == "torch":
        return TorchFlat(shard.vectors, device, block_rows)
    gpu = faiss.StandardGpuResources() if device == "cuda" else None
    if shard.blob is None:
        return FaissFlat(shard.vectors, gpu)
    return FaissApproximate(shard.load(), gpu)


def recheck(vectors: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact inner products of each query with its candidates (-inf where the index returned none)."""
    exact = np.einsum("qd,qkd->qk", queries, vectors[np.maximum(ids, 0)])
    return np.where(ids < 0, -np.inf, exact)


def widening_search(
    searcher: Searcher,
    vectors: np.ndarray,
    queries: np.ndarray,
    threshold: float,
    margin: float,
    k: int,
    stop_when_found: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rounds of (query positions, candidate ids, exact scores). A query goes to another round, with WIDEN× the
    candidates, while its last candidate scores ≥ threshold − margin (more may lie beyond it) and, when
    `stop_when_found`, none of its candidates is exactly above the threshold yet."""
    todo, k = np.arange(len(queries)), min(k, searcher.ntotal)
    while len(todo) and k:
        approx, ids = searcher.search(queries[todo], k)
        exact = approx if searcher.exact else recheck(vectors, queries[todo], ids)
        yield todo, ids, exact
        if searcher.exact or k == searcher.ntotal:
            return
        more = approx[:, -1] >= threshold - margin
        if stop_when_found:
            more &= exact.max(axis=1) <= threshold
        todo, k = todo[more], min(k * WIDEN, searcher.ntotal)


def max_similarity(
    searcher: Searcher, vectors: np.ndarray, queries: np.ndarray, threshold: float, margin: float, candidates: int
) -> np.ndarray:
    """Per query, the largest exact cosine among its re-checked candidates: the true maximum whenever it is
    above threshold − margin (up to the index's measured recall), a lower bound on it otherwise."""
    best = np.full(len(queries), -1.0, dtype=np.float32)
    k = 1 if searcher.exact else candidates
    for rows, _, exact in widening_search(searcher, vectors, queries, threshold, margin, k, stop_when_found=True):
        best[rows] = np.maximum(best[rows], exact.max(axis=1))
    return best


def pairs_above(
    searcher: Searcher, vectors: np.ndarray, queries: np.ndarray, threshold: float, margin: float, candidates: int
) -> set[tuple[int, int]]:
    """Every (query, private row) pair the search finds exactly above the threshold: what recall is measured on."""
    found: set[tuple[int, int]] = set()
    for rows, ids, exact in widening_search(searcher, vectors, queries, threshold, margin, candidates, False):
        q, c = np.nonzero(exact > threshold)
        found.update(zip(rows[q].tolist(), ids[q, c].tolist(), strict=True))
    return found

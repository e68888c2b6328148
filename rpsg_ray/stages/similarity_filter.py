"""similarity_filter: drop outputs too close to any private record (max cosine above the threshold).

The private index (every valid input record, embedded once before the stream) arrives through the
object store, shared zero-copy by all actors on a node; similarity is a blocked matmul.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from rpsg_ray.config import SimilarityFilterStage
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.rows import Stage, StageResult, texts


def max_cosine(queries: np.ndarray, index: np.ndarray, block_rows: int) -> np.ndarray:
    best = np.full(len(queries), -1.0, dtype=np.float32)
    for start in range(0, len(index), block_rows):
        block = index[start : start + block_rows]
        np.maximum(best, (queries @ block.T).max(axis=1), out=best)
    return best


class SimilarityFilter(Stage):
    name = "similarity_filter"
    outputs = {"max_similarity": pa.float32()}

    def __init__(self, cfg: SimilarityFilterStage, index: Callable[[], np.ndarray]) -> None:
        self.cfg, self.index = cfg, index()  # the loader fetches the shared matrix from the object store
        self.embedder = load_embedder(cfg.embedder)

    def process(self, rows: pa.Table) -> StageResult:
        sims = max_cosine(self.embedder.embed(texts(rows, "synthetic_text")), self.index, self.cfg.block_rows)
        reason = f"max cosine to a private record above {self.cfg.threshold}"
        return StageResult(
            {"max_similarity": sims.tolist()}, [reason if s > self.cfg.threshold else None for s in sims]
        )

"""Embeddings of every valid private record (a pre-pass): the similarity filter's index and AUG-PE's voters.

The label travels with each embedding because AUG-PE's records vote only among samples of their own label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import ray.data

from rpsg_ray.config import SimilarityFilterConfig
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.rows import texts
from rpsg_ray.similarity.build import build_shards


class EmbedRecords:
    def __init__(self, embedder: str) -> None:
        self.embedder = load_embedder(embedder)

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        return {
            "embedding": self.embedder.embed(texts(batch, "text")),
            "label": batch.column("label").to_numpy(zero_copy_only=False),
        }


def index_embeddings(embedded: ray.data.Dataset, cfg: SimilarityFilterConfig, seed: int) -> tuple[Any, ...]:
    """Body of the index-building task: stack the embeddings, build the shards; returns (*shards, report)."""
    blocks = [b["embedding"] for b in embedded.iter_batches(batch_format="numpy", batch_size=4096)]
    vectors = np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
    del blocks
    shards, report = build_shards(vectors, cfg, seed)
    return (*shards, report)

"""Embeddings of every valid private record (a pre-pass): the similarity filter's index and AUG-PE's voters.

The label travels with each embedding because AUG-PE's records vote only among samples of their own label."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.rows import texts


class EmbedRecords:
    def __init__(self, embedder: str) -> None:
        self.embedder = load_embedder(embedder)

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        return {
            "embedding": self.embedder.embed(texts(batch, "text")),
            "label": batch.column("label").to_numpy(zero_copy_only=False),
        }

"""One shard of the private index, as the builder writes it and every searcher reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np


@dataclass(frozen=True)
class IndexShard:
    """One shard: its full-precision vectors (exact search and re-checks; shared zero-copy by the actors of a
    node through the object store), and for an approximate index its serialised FAISS index and search
    parameters."""

    vectors: np.ndarray
    blob: np.ndarray | None = None
    params: str = ""
    report: dict[str, Any] = field(default_factory=dict)

    def load(self) -> faiss.Index:
        index = faiss.deserialize_index(self.blob)
        faiss.ParameterSpace().set_index_parameters(index, self.params)
        return index


def search_parameter(index: faiss.Index) -> tuple[str, int]:
    """The knob that trades speed for recall, and its largest useful value."""
    ivf = faiss.try_extract_index_ivf(index)
    return ("nprobe", ivf.nlist) if ivf is not None else ("efSearch", 1 << 14)

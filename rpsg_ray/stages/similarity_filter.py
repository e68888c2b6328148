"""similarity_filter: drop outputs too close to any private record (max cosine above the threshold).

The private index (every valid input record, embedded and indexed once before the stream) arrives through
the object store; its full-precision vectors are shared zero-copy by the actors of a node. Search is FAISS
(exact, or approximate with an exact re-check of every near-threshold candidate; rpsg_ray.similarity).
An index split into shards is searched by a chain of these actors, one shard each: a row dropped by one
shard skips the rest, and the running max and busy time add up across the chain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rpsg_ray.config import SimilarityFilterConfig
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.rows import Stage, StageResult, texts, with_columns
from rpsg_ray.similarity.search import make_searcher, max_similarity
from rpsg_ray.similarity.shard import IndexShard

SIMILARITY = "max_similarity"


class SimilarityFilter(Stage):
    name = "similarity_filter"
    inputs = ("synthetic_text",)
    outputs = {SIMILARITY: pa.float32()}
    diagnostics = {SIMILARITY: SIMILARITY}

    def __init__(self, cfg: SimilarityFilterConfig, shard: Callable[[], IndexShard]) -> None:
        self.cfg, self.shard = cfg, shard()  # the loader fetches the shared shard from the object store
        self.searcher = make_searcher(self.shard, cfg.index, cfg.resources.num_gpus, cfg.block_rows)
        self.embedder = load_embedder(cfg.embedder)

    def process(self, rows: pa.Table) -> StageResult:
        queries = np.ascontiguousarray(self.embedder.embed(texts(rows, "synthetic_text")), dtype=np.float32)
        ix = self.cfg.index
        sims = max_similarity(self.searcher, self.shard.vectors, queries, self.cfg.threshold, ix.margin, ix.candidates)
        reason = f"max cosine to a private record above {self.cfg.threshold}"
        return StageResult({SIMILARITY: sims.tolist()}, [reason if s > self.cfg.threshold else None for s in sims])

    def __call__(self, batch: pa.Table) -> pa.Table:
        """A later shard keeps what the earlier ones wrote: the max of the maxima, the sum of busy times."""
        seconds = f"sec_{self.name}"
        earlier = {c: batch.column(c) for c in (SIMILARITY, seconds) if c in batch.column_names}
        out = super().__call__(batch)
        if not earlier:
            return out
        ours = out.column(SIMILARITY)
        merged = {SIMILARITY: pc.max_element_wise(earlier[SIMILARITY], ours, skip_nulls=True)}
        if seconds in earlier:
            mine = out.column(seconds)
            merged[seconds] = pc.coalesce(pc.add(earlier[seconds], mine), mine, earlier[seconds])
        return with_columns(out, merged)

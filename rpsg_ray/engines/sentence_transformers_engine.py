"""sentence-transformers embedder (MiniLM on CPU, sentence-t5 on GPU)."""

from __future__ import annotations

import numpy as np

from rpsg_ray.engines.torch_threads import on_cpu, set_threads


class SentenceTransformersEmbedder:
    def __init__(self, model_path: str, threads: int | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        set_threads(threads)
        self.model = SentenceTransformer(model_path, device="cpu" if on_cpu() else "cuda")

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

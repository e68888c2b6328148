"""Where the index is searched, chosen from the config: FAISS on the CPU, FAISS on a GPU when this FAISS
build has GPU support, or torch on CUDA (exact search) when it does not. Nothing here imports torch or
touches CUDA until a searcher is built, so CPU nodes never initialise a GPU runtime."""

from __future__ import annotations

import logging

import faiss

from rpsg_ray.config import SimilarityIndex

log = logging.getLogger("rpsg_ray")


def faiss_gpus() -> int:
    """GPUs this FAISS build can use (always 0 for faiss-cpu)."""
    return int(getattr(faiss, "get_num_gpus", lambda: 0)())


def resolve(cfg: SimilarityIndex, num_gpus: float, gpus_in_faiss: int | None = None) -> tuple[str, str]:
    """(backend, device) for a filter actor holding `num_gpus` GPUs. auto: the GPU when the stage has one;
    FAISS, except exact search on a GPU that this FAISS build cannot drive, which torch does instead."""
    device = cfg.device if cfg.device != "auto" else ("cuda" if num_gpus > 0 else "cpu")
    backend = cfg.backend
    if backend == "auto":
        in_faiss = faiss_gpus() if gpus_in_faiss is None else gpus_in_faiss
        backend = "torch" if device == "cuda" and not in_faiss and cfg.kind == "exact" else "faiss"
    if backend == "faiss" and device == "cuda" and not (faiss_gpus() if gpus_in_faiss is None else gpus_in_faiss):
        log.warning("this FAISS build has no GPU support: the %s index is searched on the CPU", cfg.kind)
        device = "cpu"
    return backend, device

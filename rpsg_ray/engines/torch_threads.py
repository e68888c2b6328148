"""Thread and device helpers shared by the torch-based engines."""

from __future__ import annotations


def on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def set_threads(threads: int | None) -> None:
    """Ray pins OMP_NUM_THREADS=1 in 1-CPU actors; an engine may ask for more explicitly."""
    if threads:
        import torch

        torch.set_num_threads(threads)

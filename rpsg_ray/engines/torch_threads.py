"""Thread and device helpers shared by the torch-based engines."""

from __future__ import annotations


def on_cpu() -> bool:
    """True unless this process was given a GPU. Inside Ray that is Ray's assignment: Ray sets
    CUDA_VISIBLE_DEVICES for actors that reserve GPUs, and the pipeline hides every GPU (an empty
    CUDA_VISIBLE_DEVICES, `runtime.engine_env(0)`) from actors that reserve none, because Ray 2.60 no
    longer does that itself and torch would otherwise load onto GPU 0 outside Ray's accounting."""
    import torch

    return not torch.cuda.is_available()


def set_threads(threads: int | None) -> None:
    """Ray pins OMP_NUM_THREADS=1 in 1-CPU actors; an engine may ask for more explicitly."""
    if threads:
        import torch

        torch.set_num_threads(threads)

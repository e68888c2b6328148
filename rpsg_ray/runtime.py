"""Connect to Ray: a cluster when an address is given (config, --address or RAY_ADDRESS), else a local
in-process runtime. Model actors get the engine environment (vLLM settings, caches, the GPUs they reserved)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rpsg_ray.config import RuntimeConfig
from rpsg_ray.engines.registry import cache_root

log = logging.getLogger("rpsg_ray")


def engine_env(num_gpus: float = 0.0) -> dict[str, str]:
    """Environment for a model actor that reserves `num_gpus` (the job-wide default is a CPU actor's).

    CPU actors run vLLM in-process inside the actor and see no GPU at all: Ray 2.60 leaves
    CUDA_VISIBLE_DEVICES alone when an actor reserves none, so on a GPU node torch would load onto GPU 0
    outside Ray's accounting. GPU actors see the devices Ray assigned them and run vLLM's engine core in
    its own process (it overlaps scheduling and detokenising with the GPU); both values are explicit
    because an actor's env_vars are merged over the job's. The hub is offline only where the driver says
    so (HF_HUB_OFFLINE in its environment): hub models on a cluster download into the shared HF_HOME.
    """
    cache = cache_root()
    env = {
        "TOKENIZERS_PARALLELISM": "false",
        "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "WARNING"),
        "VLLM_CACHE_ROOT": str(cache / "vllm"),
        "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
        "RPSG_CACHE": str(cache),
        "TRANSFORMERS_VERBOSITY": "error",
    }
    for passed in ("HF_HUB_OFFLINE", "HF_HOME"):
        if passed in os.environ:
            env[passed] = os.environ[passed]
    if num_gpus:
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"
    else:
        env.update(
            {
                "CUDA_VISIBLE_DEVICES": "",
                "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
                "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
                "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            }
        )
    return env


def start_ray(address: str | None = None, num_cpus: int | None = None, env: dict[str, str] | None = None) -> None:
    """The one place Ray is started (runs, tests, benchmarks): a local runtime of `num_cpus` logical CPUs, or
    a cluster at `address`. A local runtime, and a cluster joined with `env` (a test's or a benchmark's own
    cluster), give every worker the engine environment plus `env`; a job joining a real cluster keeps the
    runtime_env that `ray job submit` gave it."""
    import ray

    kwargs: dict[str, Any] = {"log_to_driver": False}
    if address:
        log.info("joining Ray cluster at %s", address)
        kwargs["address"] = address
    else:
        log.info("starting a local Ray runtime (%s logical CPUs)", num_cpus)
        kwargs.update(num_cpus=num_cpus, include_dashboard=False, configure_logging=True, logging_level=logging.WARNING)
    if not address or env is not None:
        kwargs["runtime_env"] = {"env_vars": {**engine_env(), **(env or {})}}
    ray.init(**kwargs)


def configure_data(cfg: RuntimeConfig) -> None:
    """Ray Data's settings for this process: progress bars, start-up wait, the object-store budget."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = cfg.progress
    ctx.print_on_execution_start = False
    ctx.issue_detectors_config.detectors = []  # its memory hints are noise for fixed-size model pools
    if cfg.min_actors_timeout_s:
        ctx.wait_for_min_actors_s = cfg.min_actors_timeout_s
    if cfg.object_store_budget_mib:
        limits = ctx.execution_options.resource_limits
        ctx.execution_options.resource_limits = limits.copy(object_store_memory=cfg.object_store_budget_mib * 2**20)


@contextmanager
def ray_runtime(cfg: RuntimeConfig, address: str | None = None) -> Iterator[None]:
    """Start or join Ray for the duration of a run; shut down only what we started."""
    import ray

    started = not ray.is_initialized()
    if started:
        start_ray(address or cfg.address or os.environ.get("RAY_ADDRESS"), cfg.local_num_cpus)
    configure_data(cfg)
    try:
        yield
    finally:
        if started:
            ray.shutdown()

"""Shared fixtures: one Ray runtime per session (ray.init costs seconds), the demo corpus, offline hub."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    import ray

    from rpsg_ray.runtime import engine_env

    if not ray.is_initialized():
        ray.init(num_cpus=12, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": engine_env()})
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.issue_detectors_config.detectors = []
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rpsg_ray.demo_data import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("demo") / "rt.parquet", 300)

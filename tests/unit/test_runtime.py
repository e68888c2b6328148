"""The runtime applies the plan-wide settings of the config to Ray Data."""

from __future__ import annotations

from rpsg_ray.config import RuntimeConfig
from rpsg_ray.runtime import ray_runtime


def test_object_store_budget_caps_ray_data(ray_session: None) -> None:
    from ray.data import DataContext

    ctx = DataContext.get_current()
    before = ctx.execution_options.resource_limits
    try:
        with ray_runtime(RuntimeConfig(object_store_budget_mib=100, progress=False)):
            assert ctx.execution_options.resource_limits.object_store_memory == 100 * 2**20
    finally:
        ctx.execution_options.resource_limits = before

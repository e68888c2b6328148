"""The plan checks its chain of columns when it is built, and what the sink drops, finalize writes to the
diagnostics and the manifest sums all come from the stages' declarations."""

from __future__ import annotations

import pytest

from rpsg_ray.config import load_config
from rpsg_ray.errors import ConfigError
from rpsg_ray.methods.rpsg import PrivateIndex, stage_ops
from rpsg_ray.methods.rupta import rupta_plan
from rpsg_ray.operators import plan_columns
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.rows import ROW_SCHEMA

BOUNDS = {"lo": 0.5, "hi": 9.0}


def rpsg_ops(*overrides: str) -> list:
    cfg = load_config(None, ["stages.fuse_light_stages=false", "rpsg.share_generator=false", *overrides])
    return stage_ops(cfg, 1.0, BOUNDS, PrivateIndex([None, None], None), new_key())


def test_rpsg_plan_declares_its_private_text_diagnostics_and_sums() -> None:
    plan = plan_columns(rpsg_ops(), ROW_SCHEMA.names)
    assert set(plan.private) == {"prompt_text", "candidates", "abstraction", "rewrite_1", "rewrite_2"}
    assert plan.diagnostics["rewrite_2_match"] == "sentiment_match"  # the last pass's match, not the first's
    assert "rewrite_1_match" not in plan.diagnostics
    assert {"nll", "max_similarity", "select_scores", "retry_gap"} <= set(plan.diagnostics)
    assert {"select_agree", "select_pass", "rewrite_1_match"} <= set(plan.summed)
    assert not {"synthetic_text", "target_words"} & set(plan.diagnostics)  # published text is not a diagnostic


def test_fused_plan_declares_the_same_columns() -> None:
    fused = plan_columns(rpsg_ops("stages.fuse_light_stages=true", "rpsg.share_generator=true"), ROW_SCHEMA.names)
    assert fused == plan_columns(rpsg_ops(), ROW_SCHEMA.names)


def test_a_stage_reading_a_column_nobody_wrote_fails_when_the_plan_is_built() -> None:
    ops = rpsg_ops()
    names = [op.name for op in ops]
    first, second = names.index("rewrite_1"), names.index("rewrite_2")
    ops[first], ops[second] = ops[second], ops[first]  # pass 2 before pass 1
    with pytest.raises(ConfigError, match="stage rewrite_2 reads rewrite_1, target_words"):
        plan_columns(ops, ROW_SCHEMA.names)
    without_scrub = [op for op in rpsg_ops() if op.name != "scrub"]
    with pytest.raises(ConfigError, match="stage abstract reads prompt_text"):
        plan_columns(without_scrub, ROW_SCHEMA.names)


def test_rupta_plan_checks_and_keeps_its_rewrite_private() -> None:
    class Corpus:
        key = new_key()

    class Ctx:
        cfg, corpus = load_config(None), Corpus()

    plan = plan_columns(rupta_plan(Ctx()).ops, ROW_SCHEMA.names)  # type: ignore[arg-type]
    assert "rupta_text" in plan.private and plan.diagnostics["rupta_rounds"] == "rupta_rounds"


def test_the_registry_and_the_config_name_the_same_methods() -> None:
    from rpsg_ray.config import METHODS as CONFIGURED
    from rpsg_ray.methods.registry import METHODS as REGISTERED

    assert list(REGISTERED) == list(CONFIGURED)
    assert all(hasattr(load_config(None), name) for name in REGISTERED)  # each method has its section

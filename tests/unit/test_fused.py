"""Fused generation stages: one actor, one engine per spec, the same rows as one pool per stage.

The echo stand-in engine stands in for vLLM here: what is under test is the plumbing (how many engines are
built, and that running the stages in one actor changes no row), not generation quality.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from rpsg_ray import operators
from rpsg_ray.config import Config, load_config
from rpsg_ray.engines import registry
from rpsg_ray.errors import ConfigError
from rpsg_ray.manifest import machine_record
from rpsg_ray.methods.rpsg import stage_ops
from rpsg_ray.operators import Fused, StageOp, declared, engine_threads
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.rows import ROW_SCHEMA

ECHO = {"kind": "echo", "threads": 3}
SEEDS = [
    "A gorgeous, tender film with wonderful performances and a generous heart that never lets up.",
    "Tedious, ugly and far too long; the jokes die on the screen one after another.",
    "The plot wanders but the lead actor keeps it watchable, and the score is lovely.",
]


KEY = new_key()


class _NoIndex:
    """No similarity shards: only the generation stages are under test."""

    shards: list = []


def _config(share: bool, rewrite_engine: dict | None = None) -> Config:
    rpsg = {
        "abstract": {"engine": ECHO},
        "select": {"embedder": "hashing", "classifier": "keywords"},
        "rewrite": {"engine": rewrite_engine or ECHO, "classifier": "keywords"},
        "share_generator": share,
    }
    stages = {"label": {"classifier": "keywords"}, "redact": {"ner_model": None}}
    return Config.model_validate({"stages": stages, "rpsg": rpsg})


def _generation(cfg: Config) -> list[StageOp]:
    ops = stage_ops(cfg, 0.5, {"lo": 0.0, "hi": 100.0}, index=_NoIndex(), key=KEY)
    return [op for op in ops if op.name in ("abstract", "select", "rewrite_1", "rewrite_2", "generate")]


def _batch() -> pa.Table:
    rows = [
        {"id": f"r{n}", "text": t, "label": lab, "source": "f", "pos": n, "status": "ok", "stage": None, "reason": None}
        for n, (t, lab) in enumerate(zip(SEEDS, ["positive", "negative", None], strict=True))
    ]
    table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
    return table.append_column("prompt_text", table.column("text"))  # the scrub stage's column, no PII here


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    real = registry._build_generator

    def build(spec: registry.EngineSpec) -> registry.TextGenerator:
        built.append(spec.kind)
        return real(spec)

    monkeypatch.setattr(registry, "_build_generator", build)
    return built


def test_fused_stages_build_one_engine_and_give_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _counting(monkeypatch)
    (fused,) = _generation(_config(share=True))
    assert fused.name == "generate" and fused.cls is Fused and engine_threads(fused) == 3
    out_fused = fused.cls(**fused.kwargs)(_batch())
    assert built == ["echo"]  # abstract, select's retry and both rewrites share it

    separate = _generation(_config(share=False))
    assert [op.name for op in separate] == ["abstract", "select", "rewrite_1", "rewrite_2"]
    out = _batch()
    for op in separate:
        out = op.cls(**op.kwargs)(out)
    assert len(built) == 1 + 4  # one engine per stage without sharing
    drop_timings = [c for c in out.column_names if not c.startswith("sec_")]
    assert out_fused.select(drop_timings).equals(out.select(drop_timings))
    assert {f"sec_{n}" for n in ("abstract", "select", "rewrite_1", "rewrite_2")} <= set(out_fused.column_names)


def test_different_engines_are_not_fused() -> None:
    ops = _generation(_config(share=True, rewrite_engine={"kind": "echo", "threads": 1}))
    assert [op.name for op in ops] == ["abstract", "select", "rewrite_1", "rewrite_2"]


def test_light_stages_share_two_pools_sized_for_their_heaviest_member() -> None:
    """Label + scrub in one pool, redact + copy guard + quality in another, each with the most any member asks
    for (the label's GPU, the redactor's actors); each stage still runs, in order, under its own name."""

    def plan(fuse: bool) -> dict[str, StageOp]:
        cfg = _config(share=True).model_dump()
        cfg["stages"]["label"]["resources"]["num_gpus"] = 0.25
        cfg["stages"]["redact"]["resources"]["max_actors"] = 3  # the redactor serves scrub and redact
        cfg["stages"]["fuse_light_stages"] = fuse
        ops = stage_ops(Config.model_validate(cfg), 0.5, {"lo": 0.0, "hi": 100.0}, index=_NoIndex(), key=KEY)
        return {op.name: op for op in ops}

    ops = plan(fuse=True)
    assert list(ops) == ["prepare", "generate", "publish", "nll_filter"]
    assert ops["prepare"].resources.num_gpus == 0.25 and ops["publish"].resources.num_gpus == 0
    assert ops["prepare"].resources.max_actors == ops["publish"].resources.max_actors == 3
    assert [o.name for o in ops["prepare"].kwargs["ops"]] == ["label", "scrub"]
    assert [o.name for o in ops["publish"].kwargs["ops"]] == ["redact", "copy_guard", "quality"]
    assert list(plan(fuse=False)) == ["label", "scrub", "generate", "redact", "copy_guard", "quality", "nll_filter"]


def test_shared_models_load_each_model_once_per_block_and_nest(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fused actor loads a model once for every stage that names it; a fused operator inside another (the
    stream pool holding the generation pool) keeps the outer cache; outside a block nothing is cached."""
    built: list[str] = []
    monkeypatch.setattr(registry, "_build_embedder", lambda name, threads: built.append(name) or object())
    with registry.shared_models():
        first = registry.load_embedder("hashing")
        with registry.shared_models():
            assert registry.load_embedder("hashing") is first
        assert registry.load_embedder("hashing") is first
        assert registry.load_embedder("other") is not first
    assert registry.load_embedder("hashing") is not first
    assert built == ["hashing", "other", "hashing"]


class _NoEntities:
    """A stand-in NER that finds nothing: what is under test is how often one is built."""

    def entities(self, texts: list[str]) -> list[list]:
        return [[] for _ in texts]


def test_all_stages_in_one_pool_run_in_order_and_load_each_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`stages.fuse_all_stages`: one pool, the same stages and columns in the same order, at the rewrite's batch
    size; the scrub and the redactor share one NER, and the generation stages one engine."""
    built = _counting(monkeypatch)
    ners: list[str] = []
    monkeypatch.setattr(registry, "_build_ner", lambda name, detector, labels: ners.append(name) or _NoEntities())

    def plan(fuse_all: bool) -> list[StageOp]:
        cfg = _config(share=True).model_dump()
        cfg["stages"]["redact"]["ner_model"] = "a-stand-in"
        cfg["rpsg"]["nll_filter"]["engine"] = ECHO  # the stand-in's length scorer, so no real model loads here
        cfg["stages"]["fuse_all_stages"] = fuse_all
        return stage_ops(Config.model_validate(cfg), 0.5, {"lo": 0.0, "hi": 100.0}, index=_NoIndex(), key=KEY)

    separate = plan(fuse_all=False)
    (stream,) = plan(fuse_all=True)
    assert stream.name == "stream" and stream.cls is Fused and engine_threads(stream) == 3
    assert [op.name for op in stream.kwargs["ops"]] == [op.name for op in separate]
    assert declared(stream) == [c for op in separate for c in declared(op)]
    assert stream.resources.batch_size == _config(share=True).rpsg.rewrite.resources.batch_size
    stream.cls(**stream.kwargs)
    assert built == ["echo"] and ners == ["a-stand-in"]


def test_one_pool_gives_torch_the_most_threads_any_stage_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch's thread count is per process: set once after every stage is built, at the largest ask, so an NLL
    scorer built last with fewer threads cannot slow the generator beside it."""
    calls: list[int | None] = []
    monkeypatch.setattr(operators, "set_threads", calls.append)
    cfg = _config(share=True).model_dump()
    cfg["stages"]["fuse_all_stages"] = True
    cfg["rpsg"]["nll_filter"]["engine"] = {"kind": "echo", "threads": 1}
    (stream,) = stage_ops(Config.model_validate(cfg), 0.5, {"lo": 0.0, "hi": 100.0}, index=_NoIndex(), key=KEY)
    stream.cls(**stream.kwargs)
    assert calls[-1] == 3


def test_one_pool_is_refused_where_a_stage_reserves_a_gpu() -> None:
    load_config(None, ["stages.fuse_all_stages=true"])
    with pytest.raises(ConfigError, match="fuse_all_stages is for CPU nodes; rewrite"):
        load_config(None, ["stages.fuse_all_stages=true", "rpsg.rewrite.resources.num_gpus=1"])


def test_the_machine_record_gives_one_pool_its_threads() -> None:
    """Every stage of one pool runs at the actor's threads; the manifest says so, so two runs compare."""
    sets = ["rpsg.rewrite.engine.threads=2", "rpsg.nll_filter.engine.threads=1"]
    apart = machine_record(load_config(None, sets))["engine_threads"]
    together = machine_record(load_config(None, [*sets, "stages.fuse_all_stages=true"]))["engine_threads"]
    assert (apart["rewrite"], apart["nll_filter"]) == (2, 1)
    assert together["nll_filter"] == together["rewrite"] == 2

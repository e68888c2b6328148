"""The Ray Data adapter every method builds on: stage operators and their actor pools, resources and threads,
shared objects fetched inside actors, and a generator pool that outlives one dataset.

Each workaround for a Ray or vLLM behaviour is explained where it is made. Model code lives in `engines/`
and `stages/`; this module only decides where and how it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data
from ray.util import ActorPool

from rpsg_ray.config import Engine, Resources
from rpsg_ray.engines.base import Sampling
from rpsg_ray.engines.registry import load_generator, shared_models
from rpsg_ray.engines.torch_threads import set_threads
from rpsg_ray.errors import ConfigError
from rpsg_ray.rows import Columns
from rpsg_ray.runtime import engine_env


@dataclass(frozen=True)
class StageOp:
    """One map_batches operator: a callable class, its constructor kwargs and its resources."""

    name: str
    cls: type
    kwargs: dict[str, Any]
    resources: Resources


def declared(op: StageOp) -> list[Columns]:
    """The columns each stage of `op` declares, in order (a fused operator's stages one by one)."""
    if issubclass(op.cls, Fused):
        return [c for inner in op.kwargs["ops"] for c in declared(inner)]
    return [op.cls.columns(**op.kwargs)]


def plan_columns(ops: list[StageOp], given: Iterable[str]) -> Columns:
    """The chain checked in order, when the plan is built: every stage reads only columns the input (`given`)
    or an earlier stage writes. Returns what the plan writes, its diagnostics (by name, the latest stage's),
    its private text columns and the columns the manifest sums."""
    have, outputs, by_name, private, summed = set(given), {}, {}, [], []
    for c in (c for op in ops for c in declared(op)):
        missing = [col for col in c.inputs if col not in have]
        if missing:
            raise ConfigError(f"plan: stage {c.stage} reads {', '.join(missing)}, which no earlier stage writes")
        have |= c.outputs.keys()
        outputs.update(c.outputs)
        by_name.update({name: column for column, name in c.diagnostics.items()})
        private += c.private
        summed += c.summed
    diagnostics = {column: name for name, column in by_name.items()}
    return Columns("plan", tuple(given), outputs, diagnostics, tuple(private), tuple(summed))


def actor_env(threads: int | None, num_gpus: float = 0.0) -> dict[str, str]:
    """The engine environment of a model actor; `threads` overrides the 1 OpenMP thread Ray gives 1-CPU actors."""
    env = engine_env(num_gpus)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def engine_threads(op: StageOp) -> int | None:
    """The threads the operator's engine asks for (its `cfg.engine.threads`), if it has an engine; for fused
    stages, the most any of them asks for."""
    if issubclass(op.cls, Fused):
        return most_threads(op.kwargs["ops"])
    engine = getattr(op.kwargs.get("cfg"), "engine", None)
    return engine.threads if engine is not None else None


def most_threads(ops: list[StageOp]) -> int | None:
    """The most threads any of `ops` asks for; None where none asks."""
    return max((engine_threads(o) or 0 for o in ops), default=0) or None


class Fused:
    """Consecutive stages in one actor, run in order on each batch. Models they name alike are loaded once:
    with one vLLM engine per stage, a CPU node pays a model load per stage before the first row and holds a
    model copy (and KV cache) per stage; a GPU needs a slot per stage."""

    def __init__(self, ops: list[StageOp]) -> None:
        with shared_models():
            self.stages = [op.cls(**op.kwargs) for op in ops]
        # torch's thread count is per process and each transformers engine sets its own when built: the last
        # one built would decide for all (a 1-thread NLL scorer would slow the vLLM generator beside it).
        set_threads(most_threads(ops))

    def __call__(self, batch: pa.Table) -> pa.Table:
        for stage in self.stages:
            batch = stage(batch)
        return batch


def widest(ops: list[StageOp], batch_size: int) -> Resources:
    """One pool's resources for fused light stages: the most actors, CPUs and GPUs any of them asks for (a
    user who gives the redactor more actors gets them wherever it runs), at one batch size."""
    r = [op.resources for op in ops]
    return Resources(
        min_actors=max(x.min_actors for x in r),
        max_actors=max(x.max_actors for x in r),
        num_cpus=max(x.num_cpus for x in r),
        num_gpus=max(x.num_gpus for x in r),
        batch_size=batch_size,
    )


def fuse(name: str, ops: list[StageOp], resources: Resources) -> StageOp:
    """One operator running `ops` in one actor pool sized by `resources` (per-stage timings and drops are
    still recorded by each stage under its own name)."""
    return StageOp(name, Fused, {"ops": ops}, resources)


def apply(
    ds: ray.data.Dataset, op: StageOp, threads: int | None = None, batch_format: str = "pyarrow"
) -> ray.data.Dataset:
    """Add one actor-pool operator. `threads` overrides the 1-thread default Ray gives 1-CPU actors.
    The pool bundles small input blocks up to batch_size rows, so one task is about one batch. Stages take
    Arrow tables; an operator doing array arithmetic on a whole batch (AUG-PE's vote) may ask for numpy."""
    r = op.resources
    return ds.map_batches(
        op.cls,
        fn_constructor_kwargs=op.kwargs,
        compute=ray.data.ActorPoolStrategy(min_size=r.min_actors, max_size=r.max_actors),
        num_cpus=r.num_cpus,
        num_gpus=r.num_gpus or None,
        batch_size=r.batch_size,
        batch_format=batch_format,
        runtime_env={"env_vars": actor_env(threads, r.num_gpus)},
    )


def run_stages(ds: ray.data.Dataset, ops: list[StageOp]) -> ray.data.Dataset:
    """The model stages over live rows. One repartition up front cuts the rows into blocks of the smallest
    batch size, so every stage works on a different block at once (pipelining) rather than one actor
    holding a large block. Only one repartition: a task-based operator between every pair of actor pools
    holds a CPU each and, at scale, starves the downstream ones of Ray Data's budget. No operators (a
    dataset-level method's seed rows): the rows as they are."""
    if not ops:
        return ds
    ds = ds.repartition(target_num_rows_per_block=min(op.resources.batch_size for op in ops))
    for op in ops:
        ds = apply(ds, op, engine_threads(op))
    return ds


def shared(ref: ray.ObjectRef) -> Callable[[], Any]:
    """A constructor argument that fetches a large shared object (an index shard, a population) inside the
    actor. Passing the object itself would pickle it into every actor's constructor arguments and through
    the driver; a ref inside a partial is fetched from the object store by each actor once."""
    return functools.partial(ray.get, ref)


class Generate:
    """Rows with `system`, `user` and a `seed` → `text`, `tokens_generate` (one sample per row; the manifest sums
    every `tokens_` column)."""

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        return Columns("generate", ("system", "user", "seed"), {"text": pa.string(), "tokens_generate": pa.int64()})

    def __init__(self, engine: Engine, sampling: Sampling) -> None:
        self.sampling = sampling
        self.generator = load_generator(engine.spec())

    def __call__(self, batch: pa.Table) -> pa.Table:
        chats = [
            [{"role": "system", "content": s}, {"role": "user", "content": u}]
            for s, u in zip(batch.column("system").to_pylist(), batch.column("user").to_pylist(), strict=True)
        ]
        out = self.generator.generate(chats, self.sampling, batch.column("seed").to_pylist())
        return batch.append_column("text", pa.array([c.texts[0] for c in out])).append_column(
            "tokens_generate", pa.array([c.tokens for c in out], pa.int64())
        )


@ray.remote
class _GeneratorActor:
    def __init__(self, engine: Engine, sampling: Sampling) -> None:
        self.generate = Generate(engine, sampling)

    def run(self, batch: pa.Table) -> pa.Table:
        return self.generate(batch)


class GeneratorPool:
    """Generator actors kept for a whole run, each loading the engine once. Ray Data builds a fresh actor pool
    for every Dataset, so a method that generates in rounds (AUG-PE's T iterations) would reload the model
    every round through it. `generate` returns texts in row order (ActorPool.map keeps submission order)."""

    def __init__(self, engine: Engine, sampling: Sampling, resources: Resources) -> None:
        options = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus or None}
        actor = _GeneratorActor.options(
            **options, runtime_env={"env_vars": actor_env(engine.threads, resources.num_gpus)}
        )
        self.pool = ActorPool([actor.remote(engine, sampling) for _ in range(resources.max_actors)])
        self.batch_size = resources.batch_size

    def generate(self, rows: list[dict[str, Any]]) -> tuple[list[str], int]:
        table = pa.Table.from_pylist(rows)
        batches = [table.slice(i, self.batch_size) for i in range(0, table.num_rows, self.batch_size)]
        out = list(self.pool.map(lambda actor, batch: actor.run.remote(batch), batches))
        texts = [t for b in out for t in b.column("text").to_pylist()]
        return texts, sum(int(pc.sum(b.column("tokens_generate")).as_py() or 0) for b in out)

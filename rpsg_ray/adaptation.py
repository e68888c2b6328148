"""`rpsg adapt`: fit the public generator to a domain on PUBLIC records before any run, so that asked for a
record it writes one in its writer's voice instead of answering the writer as an assistant (issue 31).

Each public record (or a uniform sample of `adapt.records`) streams through Ray Data: label and scrub (the
run's own prepare stages), one abstraction by `rpsg.abstract`, then the pass-1 rewrite prompt a run would build
from that abstraction (label, length target, examples drawn as a run draws them) with the record itself as the
answer. One training worker then fine-tunes `rpsg.rewrite.engine.model` on those pairs, without clipping or
noise: no private record is read, so no ε is spent and none is claimed. The folder it writes is an HF model
any engine loads; a run uses it by naming it as `rpsg.rewrite.engine.model`. Draws here (abstraction samples,
examples, batches) protect nothing, so they come from the config's public seed, not a secret key.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data

from rpsg_ray.config import Config
from rpsg_ray.engines.dp_finetune import DpTraining, dp_finetune
from rpsg_ray.engines.registry import resolve_model_path
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.corpus import read_rows
from rpsg_ray.io.inventory import MarkRows, only_ok, take_inventory
from rpsg_ray.io.sources import ReadUnit, plan_read_units
from rpsg_ray.methods.prepare import prepare_ops
from rpsg_ray.operators import StageOp, actor_env, run_stages
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import OK
from rpsg_ray.runtime import ray_runtime
from rpsg_ray.stages.abstract import Abstract
from rpsg_ray.stages.rewrite import fit_target, row_chat, target_words

REPORT = "adaptation.json"


def not_ok(batch: pa.Table) -> pa.Table:
    """Rows a stage dropped (with their reason), counted rather than lost."""
    return batch.filter(pc.not_equal(batch.column("status"), OK))


def public_key(cfg: Config) -> RunKey:
    """A key from the config's public seed: the draws it seeds protect nothing (public records only)."""
    return RunKey(hashlib.sha256(f"adapt:{cfg.runtime.seed}".encode()).digest())


def training_pairs(batch: pa.Table, cfg: Config, key: RunKey) -> pa.Table:
    """Each record's pass-1 rewrite prompt as JSON, built by the Rewrite stage's own `row_chat`, and the record as
    published as the answer. A run's pass 1 reads the noisy selection's pick of K
    abstractions; here there is one. The answer is not scrubbed: the model learns records as their writers wrote
    them, and a run's redactor handles what it writes."""
    r, domain = cfg.rpsg.rewrite, cfg.domain
    prompts = []
    for record_id, text, label, candidates in zip(
        *(batch.column(c).to_pylist() for c in ("id", "text", "label", "candidates")), strict=True
    ):
        target = fit_target(target_words(text, r), r, domain)
        chat = row_chat(r, domain, key, record_id, candidates[0], domain.known_label(label), target, pass_index=1)
        prompts.append(json.dumps(chat))
    return pa.table({"prompt": prompts, "answer": batch.column("text")})


@ray.remote
def _train(pairs: ray.data.Dataset, base: str, out_dir: str, training: DpTraining) -> dict[str, Any]:
    """Fine-tune on the pairs: the trainer needs every pair at every step, so they live in this worker (the
    driver's memory stays flat however large the public set)."""
    examples = [(json.loads(row["prompt"]), row["answer"]) for row in pairs.take_all()]
    return asdict(dp_finetune(base, Path(out_dir), examples, training))


def training_plan(cfg: Config, pairs: int) -> DpTraining:
    """The trainer without noise (noise_multiplier None), each step drawing each of the `pairs` with probability
    batch_size / pairs."""
    a = cfg.adapt
    return DpTraining(
        noise_multiplier=None,
        max_grad_norm=1.0,  # unused: without noise nothing is clipped
        sample_rate=min(1.0, a.batch_size / pairs),
        expected_batch_size=a.batch_size,
        steps=a.steps,
        learning_rate=a.learning_rate,
        trainable_layers=a.trainable_layers,
        max_length=a.max_length,
        noise_seed=cfg.runtime.seed,
        sampling_seed=cfg.runtime.seed,
        threads=a.threads,
    )


def check_public(cfg: Config, public_units: list[ReadUnit], out_dir: Path, overwrite: bool) -> None:
    """Refuse a file of the private input among the public ones (the one mix-up this tool can see), and an
    existing model without `overwrite`."""
    private = set()
    if cfg.input.path and Path(cfg.input.path).exists():
        private = {Path(u.path).resolve() for u in plan_read_units(cfg.input, tuple(cfg.domain.labels))}
    shared = sorted({str(Path(u.path)) for u in public_units if Path(u.path).resolve() in private})
    if shared:
        raise ConfigError(f"{shared[0]} is a file of the private input (input.path): adapt reads public records only")
    if (out_dir / "config.json").exists() and not overwrite:
        raise ConfigError(f"{out_dir} already holds a model; pass --overwrite to replace it")


def adapt(
    cfg: Config, public: Path, out_dir: Path, overwrite: bool = False, address: str | None = None
) -> dict[str, Any]:
    """Build the pairs in a Ray Data stream, train in one worker, write the model and `adaptation.json`."""
    started = time.monotonic()
    public_input = cfg.input.model_copy(update={"path": str(public), "seeds": None})
    units = plan_read_units(public_input, tuple(cfg.domain.labels))
    check_public(cfg, units, out_dir, overwrite)
    read_cfg = cfg.model_copy(update={"input": public_input})
    key = public_key(cfg)
    one_abstraction = cfg.rpsg.abstract.model_copy(update={"candidates": 1})
    abstract = StageOp(
        "abstract", Abstract, {"cfg": one_abstraction, "domain": cfg.domain, "key": key}, one_abstraction.resources
    )
    with ray_runtime(cfg.runtime, address):
        inventory = take_inventory(read_rows(read_cfg, units), key, cfg.adapt.records)
        if inventory.valid_unique == 0:
            raise InputError(f"{public}: no valid records ({inventory.input_rows} rows, all quarantined)")
        records = read_rows(read_cfg, units).map_batches(MarkRows(inventory, key), batch_format="pyarrow")
        ops = [*prepare_ops(cfg), abstract]
        staged = run_stages(records.map_batches(only_ok, batch_format="pyarrow"), ops).materialize()
        dropped = staged.map_batches(not_ok, batch_format="pyarrow").count()
        pairs = (
            staged.map_batches(only_ok, batch_format="pyarrow")
            .map_batches(training_pairs, fn_kwargs={"cfg": cfg, "key": key}, batch_format="pyarrow")
            .materialize()
        )  # before the trainer starts, so it holds its cores only while it trains
        n_pairs = pairs.count()
        if dropped + n_pairs != inventory.seeds:
            raise RuntimeError(f"adapt: {inventory.seeds} sampled rows, {dropped} dropped and {n_pairs} pairs")
        if not n_pairs:
            raise InputError("adapt: no public record came through label, scrub and abstraction")
        base = resolve_model_path(cfg.rpsg.rewrite.engine.model)
        env = {"env_vars": actor_env(cfg.adapt.threads)}
        options = {"num_cpus": cfg.adapt.threads, "runtime_env": env}  # reserve the cores its threads use
        trained = ray.get(_train.options(**options).remote(pairs, base, str(out_dir), training_plan(cfg, n_pairs)))
    report = {
        "base_model": cfg.rpsg.rewrite.engine.model,
        "public_records": str(public),
        "rows": {
            "input": inventory.input_rows,
            "valid_unique": inventory.valid_unique,
            "quarantined_or_duplicate": inventory.input_rows - inventory.valid_unique,
            "not_sampled": inventory.valid_unique - inventory.seeds,
            "dropped_by_stages": dropped,
            "pairs": n_pairs,
        },
        "training": trained,
        "settings": cfg.adapt.model_dump(),
        "privacy": "trained on the public records named here only, without noise: no ε is spent and none is "
        "claimed. The records must be public; this tool cannot know that they are.",
        "wall_s": time.monotonic() - started,
    }
    (out_dir / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    return report

"""DP-SGD baseline: fine-tune a public LLM on the private records with opacus, then sample from it.

The private records are opened like every method's (io/corpus.py). One training actor (CPU
threads or a GPU from the config) receives the valid records from Ray Data: Poisson sampling needs
every record at every step, so the training set lives in that worker (never on the driver). σ/C is
calibrated by opacus' PRV accountant for the planned steps and sampling rate, and the noise and the
sampling draw from the run's secret key. The fine-tuned model (a DP release, kept under private/)
then samples the synthetic set through a Ray Data actor pool, with label-conditioned public prompts
and per-label counts fixed by the config, so the whole output is post-processing of the DP model.
dpsgd.epsilon null trains the same way without clipping or noise: the ε = ∞ reference.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray
import ray.data

from rpsg_ray.config import Config
from rpsg_ray.engines.base import Sampling
from rpsg_ray.engines.dp_finetune import DpTraining, dp_finetune
from rpsg_ray.engines.registry import resolve_model_path
from rpsg_ray.methods.base import Method, Release, RunContext
from rpsg_ray.methods.checkpoints import load_json, save_json
from rpsg_ray.methods.common import chat_row, label_chat, redact_released, released_rows
from rpsg_ray.operators import Generate, StageOp, actor_env
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.ledger import Ledger, dpsgd_ledger
from rpsg_ray.stages.redact import Redactor


@ray.remote
def _train(cfg: Config, valid: ray.data.Dataset, model_dir: str, training: DpTraining) -> dict[str, Any]:
    """Fine-tune on every valid record, scrubbed of the identifiers the redactor finds: the model never learns
    a name or number it could sample back (inside the training worker only)."""
    records = valid.select_columns(["text", "label"]).take_all()
    scrubbed, _ = Redactor(cfg.stages.redact, cfg.domain)([r["text"] for r in records])
    examples = [
        (label_chat(cfg.domain, cfg.domain.known_label(r["label"])), text)
        for r, text in zip(records, scrubbed, strict=True)
    ]
    return asdict(dp_finetune(resolve_model_path(cfg.dpsgd.model), Path(model_dir), examples, training))


def training_plan(cfg: Config, ledger: Ledger, key: RunKey) -> DpTraining:
    """How the trainer runs, from the ledger itself: its noise multiplier and its sampling rate."""
    d = cfg.dpsgd
    return DpTraining(
        noise_multiplier=ledger.sigma if ledger.epsilon is not None else None,
        max_grad_norm=d.max_grad_norm,
        sample_rate=ledger.composition["sample_rate"],
        expected_batch_size=d.expected_batch_size,
        steps=d.steps,
        learning_rate=d.learning_rate,
        trainable_layers=d.trainable_layers,
        max_length=d.max_length,
        noise_seed=key.noise_seed("dpsgd", "gradient-noise") % 2**63,
        sampling_seed=key.noise_seed("dpsgd", "poisson-sampling") % 2**63,
        threads=d.threads,
    )


def _prompts(cfg: Config, key: RunKey) -> ray.data.Dataset:
    """Per-label counts from the config (no private data); one Ray Data actor pool over the prompts, run as part
    of the release stream (its generate operator comes before the redactor)."""
    d = cfg.dpsgd
    per_label = max(1, d.samples // len(cfg.domain.classes))
    labels = [label for label in cfg.domain.classes for _ in range(per_label)]
    prompts = released_rows("dpsgd", [""] * len(labels), labels).drop_columns(["text"])
    chat = {label: chat_row(label_chat(cfg.domain, label)) for label in cfg.domain.classes}

    def prompt(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, **chat[row["label"]], "seed": key.sampling_seed(row["id"], "dpsgd")}

    return prompts.map(prompt)


def dpsgd_plan(ctx: RunContext) -> Release:
    """Train once (a resumed run reuses a finished training, kept under private/checkpoints), then release the
    samples: the model's generate operator, then the redactor, in the release stream."""
    cfg, corpus, r = ctx.cfg, ctx.corpus, ctx.cfg.dpsgd.resources
    model_dir, finished = ctx.checkpoints / "model", ctx.checkpoints / "training.json"
    trained = load_json(finished)
    if trained is None:
        plan = training_plan(cfg, corpus.ledger, corpus.key)
        options = {"num_cpus": r.num_cpus, "num_gpus": r.num_gpus or None}
        env = {"env_vars": actor_env(cfg.dpsgd.threads, r.num_gpus)}
        task = _train.options(**options, runtime_env=env).remote(cfg, corpus.records(), str(model_dir), plan)
        trained = ray.get(task)
        save_json(finished, trained)
    d = cfg.dpsgd
    engine = d.engine.model_copy(update={"model": str(model_dir)})
    sampling = Sampling(n=1, temperature=d.temperature, top_p=0.95, max_tokens=d.max_tokens)
    generate = StageOp("dpsgd_generate", Generate, {"engine": engine, "sampling": sampling}, d.resources)
    rows = _prompts(cfg, corpus.key)
    return Release(rows, [generate, *redact_released(cfg, corpus.key)], {"training": trained}, {}, 0)


DPSGD = Method(
    name="dpsgd",
    title="DP-SGD",
    summary="DP fine-tuning of a public LLM on the private records (opacus), then sampling (baseline)",
    ledger=dpsgd_ledger,
    plan=dpsgd_plan,
    one_row_per_id=True,
    seed_sample=False,
)

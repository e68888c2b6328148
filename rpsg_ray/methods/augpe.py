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

import random
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import ray
import ray.data

from rpsg_ray.config import Domain, Resources
from rpsg_ray.engines.base import Chat, Sampling
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.methods.base import Method, Release, RunContext
from rpsg_ray.methods.checkpoints import Step, last_step, save_step
from rpsg_ray.methods.common import chat_row, label_chat, redact_released, released_rows
from rpsg_ray.methods.private_index import EmbedRecords
from rpsg_ray.operators import GeneratorPool, StageOp, apply, shared
from rpsg_ray.privacy.ledger import augpe_ledger

TONES = ["enthusiastic", "critical", "casual", "formal", "witty", "thoughtful"]


def variation_chat(domain: Domain, text: str, tone: str) -> Chat:
    ask = f"Text: {text}\n\nRephrase this {domain.item} in a {tone} tone, keeping its opinion. Output only the text."
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": ask},
    ]


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


def noisy_votes(counts: np.ndarray, sigma: float, seed: int, threshold: float) -> np.ndarray:
    """The released histogram: the vote counts plus N(0, σ²) per sample (σ from the ledger, sensitivity 1), drawn
    from a keyed seed; counts under the threshold after noise are set to 0."""
    noisy = counts + np.random.default_rng(seed).normal(0.0, sigma, len(counts))
    return np.where(noisy < threshold, 0.0, noisy)


def augpe_plan(ctx: RunContext) -> Release:
    """T rounds of variation and noisy voting, each saved as a checkpoint (the population kept after the noisy
    vote, and each round's timings and token counts); a resumed run continues after the last saved round, with
    the same keyed noise and sampling seeds."""
    a = ctx.cfg.augpe
    saved = last_step(ctx.checkpoints)
    if saved is None or saved[0] < a.iterations:  # rounds left: only then start the generator and embed the corpus
        saved = _evolve(ctx, saved)
    _, population, phases = saved
    kept, labels = population.column("text").to_pylist(), population.column("label").to_pylist()
    every = [phases["init"], *phases["iterations"]]
    calls = sum(p["requests"] for p in every)
    details = {
        "variant": "1 + k·T calls per final sample",
        "llm_calls": calls,
        "calls_per_retained": calls / len(kept),
        "phases": phases,
    }
    tokens = {"augpe": sum(p["tokens"] for p in every)}
    return Release(
        released_rows("augpe", kept, labels), redact_released(ctx.cfg, ctx.corpus.key), details, tokens, calls
    )


def _evolve(ctx: RunContext, saved: Step | None) -> Step:
    """The rounds after `saved` (all of them, initial population first, when None); returns the last round."""
    cfg, corpus, a = ctx.cfg, ctx.corpus, ctx.cfg.augpe
    key, sigma = corpus.key, corpus.ledger.sigma
    per_label = max(1, a.samples // len(cfg.domain.classes))
    sampling = Sampling(n=1, temperature=a.temperature, top_p=0.95, max_tokens=a.max_tokens)
    generator = GeneratorPool(a.engine, sampling, a.resources)
    if saved is None:
        started, labels = time.time(), [lab for lab in cfg.domain.classes for _ in range(per_label)]
        rows = [
            {**chat_row(label_chat(cfg.domain, lab)), "seed": key.sampling_seed(f"init{i}", "augpe")}
            for i, lab in enumerate(labels)
        ]
        kept, used = generator.generate(rows)
        phase = {"seconds": time.time() - started, "tokens": used, "requests": len(rows)}
        saved = (0, pa.table({"text": kept, "label": labels}), {"init": phase, "iterations": []})
        save_step(ctx.checkpoints, *saved)
    done, population, phases = saved
    kept, labels = population.column("text").to_pylist(), population.column("label").to_pylist()
    embed = StageOp("private_index", EmbedRecords, {"embedder": a.embedder}, Resources(batch_size=256))
    private = apply(corpus.records(), embed).materialize()  # private embeddings + labels stay in the object store
    embedder = load_embedder(a.embedder)  # the population is small and public: embed it on the driver
    for t in range(done + 1, a.iterations + 1):
        t0, rows, pop_labels = time.time(), [], []
        tones = random.Random(f"{cfg.runtime.seed}/{t}")  # public: which tone each variation asks for
        for i, (text, lab) in enumerate(zip(kept, labels, strict=True)):
            for j in range(a.variations):
                chat = variation_chat(cfg.domain, text, tones.choice(TONES))
                rows.append({**chat_row(chat), "seed": key.sampling_seed(f"{t}.{i}.{j}", "augpe")})
                pop_labels.append(lab)
        varied, used = generator.generate(rows)
        population, pop_labels = kept + varied, labels + pop_labels
        pop_ref = ray.put({"embeddings": embedder.embed(population), "labels": np.array(pop_labels)})
        vote = StageOp("vote", Vote, {"population": shared(pop_ref)}, Resources(batch_size=1024))
        hists = apply(private, vote, batch_format="numpy").take_all()
        counts = np.sum([h["hist"] for h in hists], axis=0).astype(float)
        noisy = noisy_votes(counts, sigma, key.noise_seed("augpe", "vote", t), a.threshold)
        chosen = []
        for lab in cfg.domain.classes:
            idx = np.flatnonzero(np.array(pop_labels) == lab)
            chosen += idx[np.argsort(-noisy[idx], kind="stable")[:per_label]].tolist()
        kept, labels = [population[i] for i in chosen], [pop_labels[i] for i in chosen]
        phases["iterations"].append({"seconds": time.time() - t0, "tokens": used, "requests": len(rows)})
        saved = (t, pa.table({"text": kept, "label": labels}), phases)
        save_step(ctx.checkpoints, *saved)
    return saved


AUGPE = Method(
    name="augpe",
    title="AUG-PE",
    summary="Private Evolution for text: public samples evolved by noisy nearest-neighbour votes (baseline)",
    ledger=augpe_ledger,
    plan=augpe_plan,
    one_row_per_id=True,
    seed_sample=False,
)

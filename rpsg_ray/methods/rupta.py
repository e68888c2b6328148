"""RUPTA-style one-to-one anonymisation (Yang et al., "Robust Utility-Preserving Text Anonymization", ACL 2025).

For each private record the generator rewrites it; a privacy evaluator tries to trace the rewrite
back to its source (its embedding is closer to the source than `max_source_similarity`, or it still
holds PII that the redaction patterns find) and a utility evaluator checks that the label survives
(the classifier still reads the seed's sentiment). Their feedback, privacy first, then utility, goes
into the next rewrite prompt, for up to R rounds; a row stops as soon as both are satisfied and
records how many rounds it took and whether each evaluator was satisfied at the end.

All rows of a batch go through each round together (one generate call per round), so the engine
sees full batches. The generator reads the private record, with the identifiers the redactor finds
replaced by placeholders (stages/scrub.py), and its output is redacted like every method's: there is no
formal DP, and the ledger says so plainly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rpsg_ray.config import Domain, RuptaConfig
from rpsg_ray.engines.base import Chat, Sampling
from rpsg_ray.engines.registry import load_embedder, load_generator, load_label_classifier
from rpsg_ray.methods.base import Method, PerRecord, RunContext
from rpsg_ray.methods.common import surrogate_ops
from rpsg_ray.methods.prepare import prepare_ops
from rpsg_ray.operators import StageOp
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.ledger import rupta_ledger
from rpsg_ray.rows import Stage, StageResult, texts
from rpsg_ray.stages.redact import Redact, redact_patterns

EMPTY = "generator returned only empty text"
TRACEABLE = "It is still too close to the original: use different words and sentence structure throughout."
PII = "It still contains personal details (names, numbers, contacts): remove or replace them."
LOST_LABEL = "It no longer reads as {label}: make that clear."


def keep_label(domain: Domain, label: str | None) -> str:
    """What the prompt asks to keep: the sentiment, or the declared class by its public description."""
    phrase = domain.label_phrase(label)
    if not phrase:
        return ""
    return f" Keep it {phrase}." if domain.labels else f" Keep its {phrase} opinion."


def anonymise_chat(domain: Domain, source: str, label: str | None, previous: str | None, feedback: str) -> Chat:
    tone = keep_label(domain, label)
    ask = (
        f"Text: {source}\n\nRewrite this {domain.item} so that nobody can trace it back to its author: use different "
        f"wording, and remove or change names, places, dates, numbers and personal details.{tone} Output only the "
        f"rewritten {domain.item}."
    )
    if previous is not None:
        ask += f"\n\nYour previous attempt: {previous}\nProblem: {feedback}"
    system = f"You anonymise {domain.name}, keeping what they say useful."
    return [{"role": "system", "content": system}, {"role": "user", "content": ask}]


class RuptaRewrite(Stage):
    name = "rupta"
    inputs = ("id", "label", "prompt_text", "text")
    private = ("rupta_text",)
    diagnostics = {c: c for c in ("rupta_rounds", "rupta_private", "rupta_useful", "rupta_source_cos")}
    summed = ("rupta_private", "rupta_useful")
    outputs = {
        "rupta_text": pa.string(),
        "rupta_rounds": pa.int8(),
        "rupta_private": pa.bool_(),
        "rupta_useful": pa.bool_(),
        "rupta_source_cos": pa.float32(),
        "tokens_rupta": pa.int64(),
    }

    def __init__(self, cfg: RuptaConfig, domain: Domain, key: RunKey) -> None:
        self.cfg, self.domain, self.key = cfg, domain, key
        self.generator = load_generator(cfg.engine.spec())
        self.embedder = load_embedder(cfg.embedder)
        self.classifier = load_label_classifier(cfg.classifier, domain.labels, domain.label_embedder)

    def _feedback(self, text: str, cos: float, sentiment: str, label: str | None) -> tuple[bool, bool, str]:
        """(private?, useful?, feedback): privacy is judged first, utility only once privacy holds."""
        has_pii = any(redact_patterns(text)[1].values())
        private = cos <= self.cfg.max_source_similarity and not has_pii
        useful = not self.domain.knows(label) or sentiment == label
        if not private:
            return private, useful, PII if has_pii else TRACEABLE
        return private, useful, "" if useful else LOST_LABEL.format(label=self.domain.label_phrase(label))

    def process(self, rows: pa.Table) -> StageResult:
        ids, labels = rows.column("id").to_pylist(), rows.column("label").to_pylist()
        sources = texts(rows, "prompt_text")  # the scrubbed record: no identifier reaches the generator
        n, c = len(ids), self.cfg
        source_vecs = self.embedder.embed(texts(rows, "text"))  # traceability is judged against the record itself
        current: list[str | None] = [None] * n
        feedback, rounds, tokens = [""] * n, [0] * n, [0] * n
        private, useful, cos = [False] * n, [False] * n, [1.0] * n
        sampling = Sampling(n=1, temperature=c.temperature, top_p=c.top_p, max_tokens=c.max_tokens)
        for r in range(1, c.rounds + 1):
            live = [i for i in range(n) if not (private[i] and useful[i])]
            if not live:
                break
            chats = [anonymise_chat(self.domain, sources[i], labels[i], current[i], feedback[i]) for i in live]
            seeds = [self.key.sampling_seed(ids[i], self.name, r) for i in live]
            completions = self.generator.generate(chats, sampling, seeds)
            outs = [comp.texts[0].strip() for comp in completions]
            sims = np.sum(self.embedder.embed(outs) * source_vecs[live], axis=1)
            sentiments = self.classifier.classify(outs)
            for j, i in enumerate(live):
                current[i], rounds[i], cos[i] = outs[j], r, float(sims[j])
                tokens[i] += completions[j].tokens
                private[i], useful[i], feedback[i] = self._feedback(outs[j], cos[i], sentiments[j].label, labels[i])
        return StageResult(
            {
                "rupta_text": current,
                "rupta_rounds": rounds,
                "rupta_private": private,
                "rupta_useful": useful,
                "rupta_source_cos": cos,
                "tokens_rupta": tokens,
            },
            drops=[None if t else EMPTY for t in current],
        )


def rupta_plan(ctx: RunContext) -> PerRecord:
    """RUPTA: label the seeds where the input has no label, then the rewrite/evaluate rounds; nothing to build."""
    cfg, st = ctx.cfg, ctx.cfg.stages
    rewrite = {"cfg": cfg.rupta, "domain": cfg.domain, "key": ctx.corpus.key}
    redact = {"cfg": st.redact, "domain": cfg.domain, "column": "rupta_text"}
    return PerRecord(
        [
            *prepare_ops(cfg),
            StageOp("rupta", RuptaRewrite, rewrite, cfg.rupta.resources),
            StageOp("redact", Redact, redact, st.redact.resources),
            *surrogate_ops(cfg, ctx.corpus.key),
        ]
    )


RUPTA = Method(
    name="rupta",
    title="RUPTA",
    summary="one-to-one LLM anonymisation with privacy and utility feedback (baseline; no DP)",
    ledger=rupta_ledger,
    plan=rupta_plan,
)

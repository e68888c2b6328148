"""rewrite: the generator turns the released abstraction into a realistic passage (pass 1), then
rewrites its own output (pass 2). A sentiment guard samples a few attempts in one call and keeps
the best one whose classified sentiment matches the seed's label; each row records whether it matched.
"""

from __future__ import annotations

import re

import pyarrow as pa

from rpsg_ray.config import Domain, RewriteStage
from rpsg_ray.engines.base import Sampling, Sentiment
from rpsg_ray.engines.registry import load_classifier, load_generator
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import Stage, StageResult, texts
from rpsg_ray.stages.prompts import rewrite_chat

EMPTY = "generator returned only empty text"
CHATTER = re.compile(
    r"^\W*(sure|certainly|of course|here'?s|here is|i'?m (glad|happy|sorry|all in)|i (can|cannot|can't|will|'ll)|"
    r"as an ai|thank you|you'?re welcome)\b",
    re.IGNORECASE,
)


def target_words(seed_text: str, cfg: RewriteStage) -> int:
    return max(cfg.min_words, round(cfg.length_ratio * len(seed_text.split())))


def guard(attempts: list[str], sentiments: list[Sentiment], label: str | None, target: int) -> tuple[str, bool]:
    """Best attempt: sentiment match first, then no assistant chatter ("Sure, here's..."), then
    confidence, then closeness to the length target. Returns (text, matched)."""
    labelled = label in ("positive", "negative")

    def key(i: int) -> tuple[bool, bool, float, float]:
        match = sentiments[i].label == label if labelled else True
        plain = not CHATTER.match(attempts[i])
        return (match, plain, sentiments[i].confidence, -abs(len(attempts[i].split()) - target))

    usable = [i for i, a in enumerate(attempts) if a.strip()]
    if not usable:
        return "", False
    best = max(usable, key=key)
    return attempts[best], key(best)[0]


class Rewrite(Stage):
    name = "rewrite"

    def __init__(self, cfg: RewriteStage, domain: Domain, key: RunKey, pass_index: int) -> None:
        self.cfg, self.domain, self.key, self.pass_index = cfg, domain, key, pass_index
        self.name = f"rewrite_{pass_index}"
        self.source = "abstraction" if pass_index == 1 else f"rewrite_{pass_index - 1}"
        self.generator = load_generator(cfg.engine.spec())
        self.classifier = load_classifier(cfg.classifier)

    def output_types(self) -> dict[str, pa.DataType]:
        cols = {self.name: pa.string(), f"{self.name}_match": pa.bool_(), f"tokens_{self.name}": pa.int64()}
        if self.pass_index == 1:
            cols["target_words"] = pa.int32()
        return cols

    def process(self, rows: pa.Table) -> StageResult:
        ids = rows.column("id").to_pylist()
        labels = rows.column("label").to_pylist()
        if self.pass_index == 1:
            targets = [target_words(t, self.cfg) for t in texts(rows, "text")]
        else:
            targets = rows.column("target_words").to_pylist()
        notes = texts(rows, self.source)
        chats = [
            rewrite_chat(self.domain, n, lab, t, self.cfg.length_tolerance, self.pass_index > 1)
            for n, lab, t in zip(notes, labels, targets, strict=True)
        ]
        c = self.cfg
        sampling = Sampling(
            n=c.attempts, temperature=c.temperature, top_p=c.top_p, top_k=c.top_k, max_tokens=c.max_tokens
        )
        seeds = [self.key.sampling_seed(i, self.name) for i in ids]
        completions = self.generator.generate(chats, sampling, seeds)
        flat = [a for comp in completions for a in comp.texts]
        sentiments = self.classifier.classify(flat)
        chosen, matched, drops = [], [], []
        for r, comp in enumerate(completions):
            span = sentiments[r * c.attempts : (r + 1) * c.attempts]
            text, match = guard(comp.texts, span, labels[r], targets[r])
            chosen.append(text)
            matched.append(match)
            drops.append(None if text else EMPTY)
        columns = {
            self.name: chosen,
            f"{self.name}_match": matched,
            f"tokens_{self.name}": [x.tokens for x in completions],
        }
        if self.pass_index == 1:
            columns["target_words"] = targets
        return StageResult(columns, drops)

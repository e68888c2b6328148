"""rewrite: the generator turns the released abstraction into a realistic passage (pass 1), then
rewrites its own output (pass 2). A guard samples a few attempts in one call and keeps the best one:
first one the quality detector passes (an attempt that copies the domain's examples fails it), then one
whose classified sentiment matches the seed's label.
Rows where no attempt passes both get up to ``extra_rounds`` further calls (their tokens are counted).

Lengths fit on purpose: each row's length target is capped so that the second pass (its prompt holds
the first pass's text) fits the engine's context, and each row's ``max_tokens`` is derived from its
target, so a generation is neither cut short of its target nor given room to ramble far past it.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pyarrow as pa

from rpsg_ray.config import Domain, RewriteConfig
from rpsg_ray.engines.base import Chat, Completion, Prediction, Sampling
from rpsg_ray.engines.registry import load_generator, load_label_classifier
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.quality.detector import Verdict, judge, length_span
from rpsg_ray.rows import Columns, Stage, StageResult, texts
from rpsg_ray.stages.prompts import CHARS_PER_TOKEN, estimate_tokens, rewrite_chat, shown_examples

EMPTY = "generator returned only empty text"
SLACK_TOKENS = 16
"""Tokens beyond the target's high end: room to finish the last sentence."""
EST_TOKENS_PER_WORD = 6 / CHARS_PER_TOKEN
"""What a generated word costs in a later prompt, by the prompt estimate (about 6 characters a word)."""


def target_words(seed_text: str, cfg: RewriteConfig) -> int:
    return max(cfg.min_words, round(cfg.length_ratio * len(seed_text.split())))


def fit_target(target: int, cfg: RewriteConfig, domain: Domain) -> int:
    """The target capped so that pass 2 fits the context (its prompt holds the pass-1 text, up to the high
    end, and its generation needs tokens_per_word per word) and the high end fits the max_tokens ceiling."""
    room = (
        cfg.engine.max_model_len
        - 1
        - SLACK_TOKENS
        - estimate_tokens(rewrite_chat(domain, "", None, target, True, cfg.prompt_style))
    )
    high = min(
        room / (cfg.tokens_per_word + EST_TOKENS_PER_WORD), (cfg.max_tokens - SLACK_TOKENS) / cfg.tokens_per_word
    )
    return max(1, min(target, math.floor(high / (1 + cfg.length_tolerance))))


def row_max_tokens(target: int, cfg: RewriteConfig, chat: Chat) -> int:
    """Tokens for one attempt: what the target's high end needs (rounded up to a multiple of 16, so a batch
    needs few generate calls), within the ceiling and the context the prompt leaves."""
    need = math.ceil(cfg.tokens_per_word * length_span(target, cfg.length_tolerance)[1]) + SLACK_TOKENS
    room = cfg.engine.max_model_len - 1 - estimate_tokens(chat)
    return max(16, min(16 * math.ceil(need / 16), cfg.max_tokens, room))


def row_chat(
    cfg: RewriteConfig,
    domain: Domain,
    key: RunKey,
    record_id: str,
    notes: str,
    label: str | None,
    target: int,
    pass_index: int,
) -> Chat:
    """One row's prompt for pass `pass_index`, its public examples drawn by the run's key and the row. `rpsg adapt`
    builds its training prompts with it, so the model is trained on exactly what a run sends."""
    draw = random.Random(key.sampling_seed(record_id, "examples", pass_index))
    examples = shown_examples(domain, draw, label)
    return rewrite_chat(domain, notes, label, target, pass_index > 1, cfg.prompt_style, examples)


def guard(verdicts: list[Verdict], sentiments: list[Prediction], label: str | None, target: int) -> tuple[str, bool]:
    """Best attempt: passes the quality detector first, then label match (`label` None: the seed has no label
    of the set), then confidence, then closeness to the length target. Returns (text after the detector's
    fixes, matched)."""
    labelled = label is not None

    def key(i: int) -> tuple[bool, bool, float, float]:
        match = sentiments[i].label == label if labelled else True
        return (verdicts[i].ok, match, sentiments[i].confidence, -abs(len(verdicts[i].text.split()) - target))

    usable = [i for i, v in enumerate(verdicts) if v.text.strip()]
    if not usable:
        return "", False
    best = max(usable, key=key)
    return verdicts[best].text, key(best)[1]


def settled(verdicts: list[Verdict], sentiments: list[Prediction], label: str | None) -> bool:
    """Some attempt passes the detector and (for a labelled seed) matches the label: no further round."""
    labelled = label is not None
    return any(v.ok and (not labelled or s.label == label) for v, s in zip(verdicts, sentiments, strict=True))


class Rewrite(Stage):
    """Pass `pass_index` writes `rewrite_<pass_index>` from the `source` column the plan names; pass 1 also
    sets each row's length target from its seed, which later passes and the quality check read."""

    name = "rewrite"

    def __init__(self, cfg: RewriteConfig, domain: Domain, key: RunKey, pass_index: int, source: str) -> None:
        """Each round's samples are keyed draws (record id, stage, round): fresh per round, reproducible on retry."""
        self.cfg, self.domain, self.key, self.pass_index, self.source = cfg, domain, key, pass_index, source
        self.declared = self.columns(pass_index=pass_index, source=source)
        self.name = self.declared.stage
        self.generator = load_generator(cfg.engine.spec())
        self.classifier = load_label_classifier(cfg.classifier, domain.labels, domain.label_embedder)

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        name, first = f"rewrite_{kwargs['pass_index']}", kwargs["pass_index"] == 1
        outputs = {name: pa.string(), f"{name}_match": pa.bool_(), f"tokens_{name}": pa.int64()}
        if first:
            outputs["target_words"] = pa.int32()
        inputs = ("id", "label", kwargs["source"], "text" if first else "target_words")
        match = f"{name}_match"
        return Columns(name, inputs, outputs, {match: "sentiment_match"}, (name,), (match,))

    def output_types(self) -> dict[str, pa.DataType]:
        return self.declared.outputs

    def process(self, rows: pa.Table) -> StageResult:
        ids = rows.column("id").to_pylist()
        labels = [self.domain.known_label(lab) for lab in rows.column("label").to_pylist()]
        if self.pass_index == 1:
            targets = [fit_target(target_words(t, self.cfg), self.cfg, self.domain) for t in texts(rows, "text")]
        else:
            targets = rows.column("target_words").to_pylist()
        notes = texts(rows, self.source)
        chats = [
            row_chat(self.cfg, self.domain, self.key, i, n, lab, t, self.pass_index)
            for i, n, lab, t in zip(ids, notes, labels, targets, strict=True)
        ]
        verdicts: list[list[Verdict]] = [[] for _ in ids]
        sentiments: list[list[Prediction]] = [[] for _ in ids]
        tokens = [0] * len(ids)
        pending = list(range(len(ids)))
        for round_index in range(1 + self.cfg.extra_rounds):
            if not pending:
                break
            round_seeds = [self.key.sampling_seed(ids[r], self.name, round_index) for r in pending]
            budgets = [row_max_tokens(targets[r], self.cfg, chats[r]) for r in pending]
            completions = self._generate([chats[r] for r in pending], budgets, round_seeds)
            for r, comp in zip(pending, completions, strict=True):
                span = length_span(targets[r], self.cfg.length_tolerance)
                verdicts[r] += [judge(t, self.domain, span) for t in comp.texts]
                tokens[r] += comp.tokens
            judged = self.classifier.classify([v.text for r in pending for v in verdicts[r][-self.cfg.attempts :]])
            for k, r in enumerate(pending):
                sentiments[r] += judged[k * self.cfg.attempts : (k + 1) * self.cfg.attempts]
            pending = [r for r in pending if not settled(verdicts[r], sentiments[r], labels[r])]
        picks = [guard(verdicts[r], sentiments[r], labels[r], targets[r]) for r in range(len(ids))]
        columns = {
            self.name: [text for text, _ in picks],
            f"{self.name}_match": [match for _, match in picks],
            f"tokens_{self.name}": tokens,
        }
        if self.pass_index == 1:
            columns["target_words"] = targets
        return StageResult(columns, [None if text else EMPTY for text, _ in picks])

    def _generate(self, chats: list[Chat], budgets: list[int], seeds: list[int]) -> list[Completion]:
        """One generate call for the whole round, each prompt with its own token budget."""
        c = self.cfg
        sampling = Sampling(
            n=c.attempts,
            temperature=c.temperature,
            top_p=c.top_p,
            top_k=c.top_k,
            min_p=c.min_p,
            max_tokens=max(budgets),
            stop=tuple(c.stop),
        )
        return self.generator.generate(chats, sampling, seeds, budgets)

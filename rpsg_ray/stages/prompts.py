"""Prompt templates (domain-parametrised). The label and length target are private-derived: the ledger says so.

What the rewrite prompts avoid, and why (issue 19, measured with the quality detector): numbers in the
request come back in the text ("342 to 462 words"), so the length is asked for in words ("short") and
enforced by a per-row ``max_tokens``; the words "rewrite" and "notes" come back as headings and meta-talk,
so the requests do not use them; and the domain's public examples are shown as answers to earlier
requests, so a small model answers with a record and nothing around it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from rpsg_ray.config import AbstractConfig, Domain
from rpsg_ray.config.rpsg import AbstractionStyle, PromptStyle
from rpsg_ray.engines.base import Chat
from rpsg_ray.engines.chat import DOCUMENT

CHARS_PER_TOKEN = 3.0
"""English BPE averages about 4 characters a token; 3 makes a prompt estimate err on the long side."""
TOKENS_PER_MESSAGE = 8
"""Chat-template markers around each message."""


def estimate_tokens(chat: Chat) -> int:
    """An upper estimate of a chat's prompt tokens, engine-agnostic (stages size inputs with it)."""
    return sum(round(len(m["content"]) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE for m in chat) + TOKENS_PER_MESSAGE


def _system(domain: Domain) -> dict[str, str]:
    return {"role": "system", "content": f"You write realistic {domain.name}. You reply with the {domain.item} only."}


def shown_examples(domain: Domain, draw: random.Random | None = None, label: str | None = None) -> list[str]:
    """The public examples one prompt shows: the label's pool (`Domain.example_pool`) in order, or
    `domain.examples_shown` of it drawn by `draw` (a generator seeded from the run's secret key and the row), so
    that a pool of examples in varied forms varies the form of the outputs. Without `draw`: the longest choice
    over every pool (to size prompts)."""
    k = domain.examples_shown
    pool = domain.example_pool(label if draw is not None else None)
    if k is None or k >= len(pool):
        return pool
    if draw is None:
        return sorted(pool, key=len, reverse=True)[:k]
    return draw.sample(pool, k)


def example_turns(domain: Domain, examples: Sequence[str]) -> Chat:
    """Public examples as earlier turns: they show the form of an answer, not its content."""
    turns: Chat = []
    for example in examples:
        turns += [{"role": "user", "content": f"Write a {domain.item}."}, {"role": "assistant", "content": example}]
    return turns


_OWN_WORDS = "Use your own words. Do not copy phrases, names, numbers or any identifying detail."


def abstraction_chat(domain: Domain, text: str, style: AbstractionStyle = "summary") -> Chat:
    if style == "first_person":
        task = (
            f"You wrote this {domain.item}. Say again in one or two plain sentences, in the first person, what "
            "happened to you and what you think or want."
        )
    else:
        task = f"Summarise this {domain.item} in one or two plain sentences: what is discussed and the main opinion."
    return [_system(domain), {"role": "user", "content": f"Text: {text}\n\n{task} {_OWN_WORDS}"}]


def fit_text(text: str, budget_tokens: int) -> tuple[str, bool]:
    """The text, or its head cut at a word boundary to fit ``budget_tokens`` (by the same estimate); cut?"""
    limit = max(0, int(budget_tokens * CHARS_PER_TOKEN))
    if len(text) <= limit:
        return text, False
    head = text[:limit]
    return (head.rsplit(None, 1)[0] if " " in head.strip() else head).rstrip(), True


def text_room(empty: Chat, context: int, max_tokens: int) -> int:
    """Tokens left for the text a prompt carries (estimated from the prompt without it) so that prompt and
    generation fit the context: engines would otherwise cut the middle of the prompt silently."""
    return context - max_tokens - 1 - estimate_tokens(empty)


def fit_abstraction_chat(domain: Domain, text: str, cfg: AbstractConfig) -> tuple[Chat, bool]:
    """The abstraction prompt in the config's style, with the seed cut (head kept) to its `text_room`; the cut is
    on purpose and flagged. The abstract stage and the selection's retry both ask through it, so they ask alike."""
    empty = abstraction_chat(domain, "", cfg.prompt_style)
    fitted, cut = fit_text(text, text_room(empty, cfg.engine.max_model_len, cfg.max_tokens))
    return abstraction_chat(domain, fitted, cfg.prompt_style), cut


def length_words(target_words: int) -> str:
    """The length target in words, never in numbers (numbers are echoed into the text)."""
    for limit, phrase in ((15, "very short"), (35, "short"), (70, "medium-length"), (120, "detailed")):
        if target_words <= limit:
            return phrase
    return "long, detailed"


def record_kind(domain: Domain, label: str | None, size: str) -> str:
    """The record asked for: a short positive movie review for sentiment; a short movie review (a question
    about sports) for a declared class, whose public description is the user's own phrase."""
    phrase = domain.label_phrase(label)
    if domain.labels:
        return f"{size} {domain.item}" + (f" ({phrase})" if phrase else "")
    return f"{size} {phrase + ' ' if phrase else ''}{domain.item}"


def rewrite_chat(
    domain: Domain,
    notes: str,
    label: str | None,
    target_words: int,
    second_pass: bool,
    style: PromptStyle = "chat",
    examples: Sequence[str] | None = None,
) -> Chat:
    """The rewrite prompt in the config's style. chat: a system turn, the public examples as earlier answers,
    the instruction last in the user turn (small instruction models follow it far better there);
    chat_without_system: the same without the system turn; document: no conversation at all (below).
    `examples`: the row's draw of `shown_examples` (None: the longest choice)."""
    kind = record_kind(domain, label, length_words(target_words))
    shown = shown_examples(domain) if examples is None else examples
    if style == "document":
        return _document(domain, notes, kind, second_pass, shown)
    if second_pass:
        ask = f"Here is a {domain.item}: {notes}\n\nWrite a new {kind} with the same opinion."
    else:
        ask = f"Write a {kind} about this: {notes}\nUse no names."
    system = [_system(domain)] if style == "chat" else []
    return [*system, *example_turns(domain, shown), {"role": "user", "content": ask}]


def _document(domain: Domain, notes: str, kind: str, second_pass: bool, examples: Sequence[str]) -> Chat:
    """A completion-style prompt: the start of a page of such records (the public examples as earlier
    entries), ending on the heading of the next one, which carries its kind and the abstraction as its topic.
    An instruction model asked to "write" a first-person record answers the writer instead of being one; a
    page to continue has no one to answer."""
    item = domain.item[0].upper() + domain.item[1:]
    page = f"{domain.name[0].upper() + domain.name[1:]}, as their writers posted them.\n\n"
    page += "".join(f"{item}:\n{example}\n\n" for example in examples)
    topic = f"on the same points as this one: {notes}" if second_pass else f"topic: {notes}"
    return [{"role": DOCUMENT, "content": f"{page}{item} ({kind}), {topic}\n"}]

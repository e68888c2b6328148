"""Prompt templates (domain-parametrised). The label and length target are private-derived: the ledger says so."""

from __future__ import annotations

from rpsg_ray.config import Domain
from rpsg_ray.engines.base import Chat


def abstraction_chat(domain: Domain, text: str) -> Chat:
    system = (
        f"You summarise {domain.name}. Write a short, plain abstraction of the {domain.item} below in one or two "
        "sentences: what is discussed and the main opinion. Use your own words. Do not copy phrases, names, "
        "numbers or any detail that could identify the writer."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def _sentiment_clause(label: str | None) -> str:
    if label in ("positive", "negative"):
        return f" The opinion must be clearly {label}."
    return ""


def rewrite_chat(
    domain: Domain, notes: str, label: str | None, target_words: int, tolerance: float, second_pass: bool
) -> Chat:
    lo = max(1, round(target_words * (1 - tolerance)))
    hi = max(lo + 1, round(target_words * (1 + tolerance)))
    if second_pass:
        task = f"Rewrite the {domain.item} below in different words, keeping its meaning and opinion."
    else:
        task = f"Write a realistic {domain.item} based on these notes. Keep what the notes say; add no new facts."
    system = (
        f"You write realistic {domain.name}. {task}{_sentiment_clause(label)} Write {lo} to {hi} words. "
        f"Use no names of real people and no identifying details. Output only the {domain.item}."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": notes}]

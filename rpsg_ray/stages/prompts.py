"""Prompt templates (domain-parametrised). The label and length target are private-derived: the ledger says so."""

from __future__ import annotations

from rpsg_ray.config import Domain
from rpsg_ray.engines.base import Chat


def _critic(domain: Domain) -> dict[str, str]:
    return {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."}


def abstraction_chat(domain: Domain, text: str) -> Chat:
    ask = (
        f"Text: {text}\n\nSummarise this {domain.item} in one or two plain sentences: what is discussed and the "
        "main opinion. Use your own words. Do not copy phrases, names, numbers or any identifying detail."
    )
    return [_critic(domain), {"role": "user", "content": ask}]


def _bounds(target_words: int, tolerance: float) -> tuple[int, int]:
    lo = max(1, round(target_words * (1 - tolerance)))
    return lo, max(lo + 1, round(target_words * (1 + tolerance)))


def rewrite_chat(
    domain: Domain, notes: str, label: str | None, target_words: int, tolerance: float, second_pass: bool
) -> Chat:
    """Instruction last, in the user turn: small instruction models follow it far better there."""
    lo, hi = _bounds(target_words, tolerance)
    tone = f"{label} " if label in ("positive", "negative") else ""
    if second_pass:
        ask = (
            f"Text: {notes}\n\nRewrite this {domain.item} in different words, keeping its {tone}opinion, "
            f"in {lo} to {hi} words. Output only the rewritten {domain.item}."
        )
    else:
        ask = (
            f"Notes: {notes}\n\nWrite a {tone}{domain.item} of {lo} to {hi} words based on these notes. "
            f"Add no names and no new facts. Output only the {domain.item}."
        )
    return [_critic(domain), {"role": "user", "content": ask}]

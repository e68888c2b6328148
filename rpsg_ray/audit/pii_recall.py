"""How much of each kind of identifier the redactor removes, on a labelled set of fake people in real contexts.

A probe is one short text holding one planted value in one context. It counts as caught only when no piece
of the value survives redaction: for a name, neither the given name nor the surname; for a number, no
group of three or more of its digits; for an e-mail, not its local part. A name half removed is a miss,
since a surname alone can identify. Lower-case names are reported apart: the NER reads capitals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rpsg_ray.audit.identities import NAME_CONTEXTS, Identity

FIELD_CONTEXTS: dict[str, dict[str, str]] = {
    "email": {"cued": "You can reach me at {} any time.", "bare": "Receipts went to {} in the end."},
    "phone": {"cued": "Call me at {} after six.", "bare": "The number {} kept ringing."},
    "card": {"cued": "They charged my card {} twice.", "bare": "Paid with {} and never heard back."},
    "account": {"cued": "My account {} was frozen for a week.", "bare": "Transfer to {} bounced."},
    "ssn": {"cued": "My SSN is {} and they asked for it again.", "bare": "The form said {} on top."},
}
LOWER_CASE_CONTEXTS = {context: NAME_CONTEXTS[context] for context in ("introduction", "third_person")}


@dataclass(frozen=True)
class Probe:
    entity: str
    context: str
    text: str
    pieces: tuple[str, ...]


def _digit_groups(value: str) -> tuple[str, ...]:
    return tuple(g for g in re.findall(r"\d+", value) if len(g) >= 3) or (value,)


def build_probes(people: list[Identity]) -> list[Probe]:
    """Every person in every name context (capitalised, and lower-case in two; the context's templates taken in
    turn), and every field in two."""
    probes = []
    for n, p in enumerate(people):
        for context, templates in NAME_CONTEXTS.items():
            text = templates[n % len(templates)].format(name=p.name)
            probes.append(Probe("name", context, text, (p.given, p.family)))
        for context, templates in LOWER_CASE_CONTEXTS.items():
            text = templates[n % len(templates)].format(name=p.name.lower())
            probes.append(Probe("name_lower_case", context, text, (p.given.lower(), p.family.lower())))
        for field, templates in FIELD_CONTEXTS.items():
            value = getattr(p, field)
            pieces = (value.split("@")[0],) if field == "email" else _digit_groups(value)
            for context, template in templates.items():
                probes.append(Probe(field, context, template.format(value), pieces))
    return probes


def survives(piece: str, text: str, case: bool = False) -> bool:
    """The piece still stands in the text as a whole (a word, a digit group, a value; not inside a longer word
    or number), in any case unless `case`."""
    return re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", text, 0 if case else re.IGNORECASE) is not None


def recall(redact: Callable[[list[str]], list[str]], probes: list[Probe]) -> dict[tuple[str, str], tuple[int, int]]:
    """(caught, total) per (entity, context)."""
    cleaned = redact([p.text for p in probes])
    table: dict[tuple[str, str], tuple[int, int]] = {}
    for probe, text in zip(probes, cleaned, strict=True):
        caught, total = table.get((probe.entity, probe.context), (0, 0))
        hit = not any(survives(piece, text) for piece in probe.pieces)
        table[(probe.entity, probe.context)] = (caught + hit, total + 1)
    return table


def touched(counts: list[dict[str, int]]) -> dict[str, float]:
    """Share of texts with at least one replacement, per kind, from the redactor's counts. On real texts with
    nothing planted this bounds its false-positive rate from above (real texts also name real people)."""
    kinds = sorted({k for c in counts for k in c})
    return {k: sum(c.get(k, 0) > 0 for c in counts) / max(1, len(counts)) for k in kinds}

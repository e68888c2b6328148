"""redact: replace PII spans with typed placeholders ([EMAIL], [PHONE], [PERSON], ...) and count them.

Regexes catch e-mails, URLs, phone numbers and long digit runs / account-like ids (NER models miss
these); then Presidio's recognizers on the packaged spaCy model (engines/presidio_engine.py) find names,
places, organisations where they identify the writer (first-person posts name employers, banks and clinics),
cards and other checksummed numbers, and names given away by their context ("my name is ...").
Heuristic, so the ledger lists it as not covered by any guarantee. The same `Redactor` scrubs each seed
before it goes into a prompt (stages/scrub.py) and cleans each method's output here. Its recall per kind
is measured by benchmarks/pii_recall.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from rpsg_ray.config import Domain, RedactConfig
from rpsg_ray.engines.registry import load_ner
from rpsg_ray.rows import Columns, Stage, StageResult, texts

STRUCTURED_ID = (
    r"\b\d{3}-\d{2}-\d{4}\b|\b(?:\d{4}[ -]){3}\d{1,7}\b"
    r"|\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"
    r"|\b[A-Za-z][A-Za-z0-9]*(?:[-_/][A-Za-z0-9]*\d[A-Za-z0-9]*){1,4}\b"
    r"|\b[A-Za-z]{2,}[-_]?\d{4,}[A-Za-z0-9]*\b"
)
PHONE_EXTENSION = r"(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,6})"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    (
        "URL",
        re.compile(
            r"\b(?:https?://|www\.)[^\s<>\"']+"
            r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|co|uk|de|fr|info|biz|me)/[^\s<>\"']*",
            re.IGNORECASE,
        ),
    ),
    # Before PHONE: grouped digits that are ids, not numbers to call (SSN 3-2-4, card numbers in fours,
    # IBANs, dashed or prefixed account ids such as AB-1234-5678 or ACC-00123456).
    ("ID", re.compile(STRUCTURED_ID)),
    # International and national formats: +CC, +(CC) or 00CC, optional (area), then digit groups split by
    # spaces, dots or dashes (a slash only after the first: "94/499-5860"), or, after a prefix only, one run
    # ("+(370) 53068262", "(0124)-153693"); an extension ("x123") belongs to it.
    (
        "PHONE",
        re.compile(
            r"(?<![\w+-])(?P<cc>(?:\+\(?|00)\d{1,3}\)?[\s.-]?)?(?P<area>\(\d{1,5}\)[\s./-]?)?"
            r"(?:\d{1,5}(?:/\d{2,8})?(?:[\s.-]\d{2,8}){1,5}|(?(cc)\d{5,12}|(?(area)\d{5,12}|(?!))))"
            + PHONE_EXTENSION
            + r"?(?![\w-])"
        ),
    ),
    # After PHONE: long digit runs that were not part of a phone number.
    ("ID", re.compile(r"(?<!\d[\s.-])\b\d{6,}\b(?![\s.-]\d)")),
)
KINDS = tuple(dict.fromkeys(kind for kind, _ in PATTERNS))


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _no_extension(phone: str) -> str:
    return re.sub(PHONE_EXTENSION + "$", "", phone)


def _national(phone: str) -> bool:
    bare = _no_extension(phone)
    digits, groups = _digits(bare), len(re.findall(r"\d+", bare))
    return digits >= 9 or (digits >= 8 and groups >= 4)


VALID: dict[str, Callable[[str], bool]] = {
    # An id holds at least 5 digits ("PG-13", "COVID-19" and "MP3" are not ids).
    "ID": lambda t: _digits(t) >= 5,
    # A phone holds 7 to 15 digits and, without a country code or (area), at least 9, or 8 in four groups or
    # more ("08-58 25 25"): "2016-2017" and "15.03.2024" are no phones.
    "PHONE": lambda t: 7 <= _digits(_no_extension(t)) <= 15 and (t.startswith(("+", "00", "(")) or _national(t)),
}


def tag(kind: str, span: str, numbers: dict[tuple[str, str], int] | None) -> str:
    """The placeholder for one span: [KIND], or with `numbers` (one dict per text) [KIND_n], the same n for the
    same span within the text, so a later stage can tell one person named twice from two people."""
    if numbers is None:
        return f"[{kind}]"
    n = numbers.setdefault((kind, span), 1 + sum(k == kind for k, _ in numbers))
    return f"[{kind}_{n}]"


def redact_patterns(text: str, numbers: dict[tuple[str, str], int] | None = None) -> tuple[str, dict[str, int]]:
    counts = {}
    for kind, pattern in PATTERNS:
        valid = VALID.get(kind, lambda _: True)
        hits = 0

        def replace(m: re.Match[str], kind: str = kind, valid: Callable[[str], bool] = valid) -> str:
            nonlocal hits
            if not valid(m.group(0)):
                return m.group(0)
            hits += 1
            return tag(kind, m.group(0), numbers)

        text = pattern.sub(replace, text)
        counts[kind] = counts.get(kind, 0) + hits
    return text, counts


PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*(?:_\d+)?\]")


def clear_of_placeholders(text: str, start: int, end: int) -> tuple[int, int] | None:
    """An entity's span with the placeholders the regexes wrote trimmed off its edges, or None where nothing but
    placeholders is left: an NER may tag "[EMAIL]", or "EMAIL_2" inside "[EMAIL_2]", and must not tag it again."""
    for tag_ in PLACEHOLDER.finditer(text):
        if tag_.start() < end and start < tag_.end():
            start = tag_.end() if tag_.start() <= start else start
            end = tag_.start() if tag_.end() >= end else end
    span = text[start:end]
    if start >= end or not any(ch.isalnum() for ch in PLACEHOLDER.sub("", span)):
        return None
    return start + len(span) - len(span.lstrip()), end - len(span) + len(span.rstrip())


def redaction_kinds(cfg: RedactConfig, domain: Domain) -> list[str]:
    """What the redactor replaces: the regexes' kinds, then the NER labels configured for the domain."""
    return [*KINDS, *cfg.labels(domain)]


def count_types(kinds: list[str], prefix: str) -> dict[str, pa.DataType]:
    """The per-kind count columns a stage writes under `prefix` (the manifest sums every `pii_` column)."""
    return {f"{prefix}{kind.lower()}": pa.int32() for kind in kinds}


class Redactor:
    """Typed placeholders for PII spans: the regexes first, then the NER's entity types for the domain."""

    def __init__(self, cfg: RedactConfig, domain: Domain, numbered: bool = False) -> None:
        """`numbered`: [KIND_n] tags (see :func:`tag`), for the surrogates stage to replace consistently."""
        self.labels, self.kinds = cfg.labels(domain), redaction_kinds(cfg, domain)
        self.ner = load_ner(cfg.ner_model, cfg.detector, self.labels) if cfg.ner_model else None
        self.numbered = numbered

    def __call__(self, batch: list[str]) -> tuple[list[str], list[dict[str, int]]]:
        """The cleaned texts and, per text, how many spans of each kind were replaced."""
        numbers: list[dict[tuple[str, str], int] | None] = [{} if self.numbered else None for _ in batch]
        cleaned, counts = zip(*(redact_patterns(t, n) for t, n in zip(batch, numbers, strict=True)), strict=True)
        cleaned, counts = list(cleaned), [dict(c) for c in counts]
        if self.ner is not None:
            wanted = set(self.kinds)
            for r, ents in enumerate(self.ner.entities(cleaned)):
                text = cleaned[r]
                spans = ((e.label, clear_of_placeholders(text, e.start, e.end)) for e in ents if e.label in wanted)
                found = [(label, span) for label, span in spans if span is not None]
                for label, (start, end) in sorted(found, key=lambda f: f[1][0], reverse=True):
                    text = f"{text[:start]}{tag(label, text[start:end], numbers[r])}{text[end:]}"
                    counts[r][label] = counts[r].get(label, 0) + 1
                cleaned[r] = text
        return cleaned, counts

    def count_types(self, prefix: str) -> dict[str, pa.DataType]:
        return count_types(self.kinds, prefix)

    def count_columns(self, counts: list[dict[str, int]], prefix: str) -> dict[str, list[int]]:
        return {f"{prefix}{kind.lower()}": [c.get(kind, 0) for c in counts] for kind in self.kinds}


class Redact(Stage):
    """The method's output (the `column` the plan names: the last rewrite pass, RUPTA's rewrite, a generated
    sample), redacted into `synthetic_text`, the text every later stage judges and the run publishes."""

    name = "redact"

    def __init__(self, cfg: RedactConfig, domain: Domain, column: str) -> None:
        self.redactor = Redactor(cfg, domain, numbered=cfg.surrogates.enabled)
        self.column = column

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        kinds = redaction_kinds(kwargs["cfg"], kwargs["domain"])
        return Columns(cls.name, (kwargs["column"],), {"synthetic_text": pa.string(), **count_types(kinds, "pii_")})

    def output_types(self) -> dict[str, pa.DataType]:
        return {"synthetic_text": pa.string(), **self.redactor.count_types("pii_")}

    def process(self, rows: pa.Table) -> StageResult:
        cleaned, counts = self.redactor(texts(rows, self.column))
        return StageResult({"synthetic_text": cleaned, **self.redactor.count_columns(counts, "pii_")})

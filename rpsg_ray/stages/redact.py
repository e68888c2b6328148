"""redact: replace PII spans with typed placeholders ([EMAIL], [PHONE], [PERSON], ...) and count them.

Regexes catch e-mails, URLs, phone numbers and long digit runs / account-like ids (NER models miss
these); the packaged spaCy model finds names and places. Heuristic, so the ledger lists it as
not covered by any guarantee.
"""

from __future__ import annotations

import re

import pyarrow as pa

from rpsg_ray.config import RedactStage
from rpsg_ray.engines.registry import load_ner
from rpsg_ray.rows import Stage, StageResult, texts

PATTERNS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "URL": re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE),
    "PHONE": re.compile(
        r"(?<![\w])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w])"
    ),
    "ID": re.compile(r"\b(?:\d{6,}|[A-Za-z]{2,}[-_]?\d{4,}[A-Za-z0-9]*)\b"),
}


def redact_patterns(text: str) -> tuple[str, dict[str, int]]:
    counts = {}
    for kind, pattern in PATTERNS.items():
        text, counts[kind] = pattern.subn(f"[{kind}]", text)
    return text, counts


class Redact(Stage):
    name = "redact"

    def __init__(self, cfg: RedactStage) -> None:
        self.cfg = cfg
        self.ner = load_ner(cfg.ner_model) if cfg.ner_model else None

    def output_types(self) -> dict[str, pa.DataType]:
        kinds = [*PATTERNS, *self.cfg.entity_types]
        return {"synthetic_text": pa.string(), **{f"pii_{k.lower()}": pa.int32() for k in kinds}}

    def process(self, rows: pa.Table) -> StageResult:
        source = self._latest_rewrite(rows)
        cleaned, counts = zip(*(redact_patterns(t) for t in texts(rows, source)), strict=True)
        cleaned, counts = list(cleaned), [dict(c) for c in counts]
        if self.ner is not None:
            wanted = set(self.cfg.entity_types)
            for r, ents in enumerate(self.ner.entities(cleaned)):
                text = cleaned[r]
                for ent in sorted((e for e in ents if e.label in wanted), key=lambda e: e.start, reverse=True):
                    text = f"{text[: ent.start]}[{ent.label}]{text[ent.end :]}"
                    counts[r][ent.label] = counts[r].get(ent.label, 0) + 1
                cleaned[r] = text
        columns: dict[str, list] = {"synthetic_text": cleaned}
        for kind in [*PATTERNS, *self.cfg.entity_types]:
            columns[f"pii_{kind.lower()}"] = [c.get(kind, 0) for c in counts]
        return StageResult(columns)

    @staticmethod
    def _latest_rewrite(rows: pa.Table) -> str:
        passes = sorted(c for c in rows.column_names if re.fullmatch(r"rewrite_\d+", c))
        return passes[-1]

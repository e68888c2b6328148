"""copy_guard: an identifier the redactor missed, copied from the row's own seed, is replaced before publishing.

The seed is scrubbed before every prompt, but a name the NER does not know (an uncommon given name with a
foreign surname) passes the scrub and the output redaction alike, and a model may copy it. So, after
redaction: a span of two or more words that are each capitalised or carry digits, which also occurs in the
row's own seed, is replaced by a placeholder ([NAME], or [ID] where it holds digits), unless the domain's
public examples or the configured allow-list hold it. Ordinary words at the edges of a span (a sentence's
"The", "My") are not part of it, so "The film" never counts and "The Dark Knight" counts as "Dark Knight".
Each replacement is counted (`pii_copied_identifier`); the spans themselves are private and never logged.
"""

from __future__ import annotations

import functools
import re

import pyarrow as pa

from rpsg_ray.config import CopyGuardConfig, Domain
from rpsg_ray.rows import Stage, StageResult, texts

WORD = re.compile(r"[^\W_][\w'’.-]*[^\W_]|[^\W_]")
POSSESSIVE = re.compile(r"['’]s$")


def _key(word: str) -> str:
    """A word as compared with the seed: without a possessive ending."""
    return POSSESSIVE.sub("", word)


@functools.cache
def _stop_words() -> frozenset[str]:
    """spaCy's English stop words, imported on first use: importing spaCy pulls in torch (2 s), which every
    `rpsg` command would pay through the method registry."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _marked(word: str) -> bool:
    """Capitalised or carrying a digit, and not an ordinary word that a sentence may start with."""
    w = _key(word)
    return (w[:1].isupper() or any(c.isdigit() for c in w)) and w.lower() not in _stop_words()


def copied_spans(text: str, seed: str, public: str) -> list[tuple[int, int]]:
    """Character spans of `text` (two or more marked words in a row) that occur word for word in `seed` and
    not in `public`, longest first within each run of marked words."""
    words = list(WORD.finditer(text))
    seed_words = " " + " ".join(_key(m.group(0)) for m in WORD.finditer(seed)) + " "
    public_words = " " + " ".join(_key(m.group(0)) for m in WORD.finditer(public)) + " "
    spans, i = [], 0
    while i < len(words):
        if not _marked(words[i].group(0)):
            i += 1
            continue
        j = i
        while j + 1 < len(words) and _marked(words[j + 1].group(0)) and _adjacent(text, words[j], words[j + 1]):
            j += 1
        spans += _occurring(words[i : j + 1], seed_words, public_words)
        i = j + 1
    return spans


def _adjacent(text: str, a: re.Match[str], b: re.Match[str]) -> bool:
    """Only spaces between two words (a comma or a full stop ends a span)."""
    return not text[a.end() : b.start()].strip()


def _occurring(run: list[re.Match[str]], seed_words: str, public_words: str) -> list[tuple[int, int]]:
    """The longest sub-runs (two words or more) found in the seed and not in the public text, left to right."""
    found, start = [], 0
    while start < len(run) - 1:
        for end in range(len(run), start + 1, -1):
            phrase = " " + " ".join(_key(m.group(0)) for m in run[start:end]) + " "
            if phrase in seed_words and phrase not in public_words:
                last = run[end - 1]
                suffix = POSSESSIVE.search(last.group(0))  # "Dubois's" -> "[NAME]'s"
                found.append((run[start].start(), last.end() - (len(suffix.group(0)) if suffix else 0)))
                start = end
                break
        else:
            start += 1
    return found


def guard(text: str, seed: str, public: str) -> tuple[str, int]:
    """The text with each copied span replaced, and how many were."""
    spans = copied_spans(text, seed, public)
    for start, end in reversed(spans):
        placeholder = "[ID]" if any(c.isdigit() for c in text[start:end]) else "[NAME]"
        text = f"{text[:start]}{placeholder}{text[end:]}"
    return text, len(spans)


class CopyGuard(Stage):
    name = "copy_guard"
    inputs = ("synthetic_text", "text")
    outputs = {"synthetic_text": pa.string(), "pii_copied_identifier": pa.int32()}

    def __init__(self, cfg: CopyGuardConfig, domain: Domain) -> None:
        self.cfg = cfg
        self.public = "\n".join([*domain.all_examples, *cfg.allow])

    def process(self, rows: pa.Table) -> StageResult:
        outputs, seeds = texts(rows, "synthetic_text"), texts(rows, "text")
        if not self.cfg.enabled:
            return StageResult({"synthetic_text": outputs, "pii_copied_identifier": [0] * len(outputs)})
        guarded = [guard(t, s, self.public) for t, s in zip(outputs, seeds, strict=True)]
        return StageResult(
            {"synthetic_text": [t for t, _ in guarded], "pii_copied_identifier": [n for _, n in guarded]}
        )

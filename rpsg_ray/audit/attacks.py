"""Attacks that see only the released synthetic texts: each turns a candidate record into a membership score
(higher = more likely a member) by comparing it with the synthetic corpus."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rpsg_ray.stages.redact import PATTERNS

NGRAM = 3
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TextSet:
    """Texts with labels and their L2-normalised embeddings (candidates, or one synthetic set)."""

    texts: list[str]
    labels: list[str]
    embeddings: np.ndarray
    columns: dict[str, list[object]] = field(default_factory=dict)
    """Other published per-row columns (only a run's real synthetic set has them)."""

    def __len__(self) -> int:
        return len(self.texts)


Attack = Callable[[TextSet, TextSet], np.ndarray]


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def nearest_similarity(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """Highest cosine similarity of each candidate to any synthetic row (exact search)."""
    return (candidates.embeddings @ synthetic.embeddings.T).max(axis=1)


def ngram_overlap(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """Share of a candidate's word trigrams that occur anywhere in the synthetic corpus."""
    corpus: set[tuple[str, ...]] = set().union(*(ngrams(t, NGRAM) for t in synthetic.texts))
    scores = []
    for text in candidates.texts:
        grams = ngrams(text, NGRAM)
        scores.append(len(grams & corpus) / len(grams) if grams else 0.0)
    return np.array(scores)


def rare_word_overlap(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """IDF weight of a candidate's distinct words found in the synthetic vocabulary minus that of the words not
    found: a rare word of the record (a title, a name) reappearing says more than "the", and a rare word
    missing says it was not copied. IDF comes from the candidate pool itself, which the attacker holds (no
    membership labels involved)."""
    vocabulary = {w for t in synthetic.texts for w in words(t)}
    bags = [set(words(t)) for t in candidates.texts]
    df = Counter(w for bag in bags for w in bag)
    n = len(bags)
    scores = []
    for bag in bags:
        weights = {w: math.log((1 + n) / (1 + df[w])) for w in bag}
        scores.append(sum(v if w in vocabulary else -v for w, v in weights.items()))
    return np.array(scores)


def tfidf_similarity(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """Highest cosine of a candidate's TF-IDF vector (words and word pairs) to any synthetic row's: a second
    representation of another kind, since the similarity filter optimises against the neural embedder that
    `nearest_similarity` uses. IDF is fitted on the synthetic corpus alone (what the attacker was given)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(synthetic.texts)
    sims = vectorizer.transform(candidates.texts) @ vectorizer.transform(synthetic.texts).T
    return np.asarray(sims.max(axis=1).todense()).ravel()


CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+")


def typed_identifier_spans(text: str) -> dict[str, set[str]]:
    """The spans of a record that may name someone, by type: what each of the redactor's patterns matches
    (EMAIL, URL, ID, PHONE, ...), NAME_LIKE for runs of two or more capitalised words (names, places,
    employers), DIGITS for tokens of five characters or more with a digit in them (an account id, a flat number;
    "555" alone would match anywhere)."""
    spans = {kind: {m.group(0) for m in pattern.finditer(text)} for kind, pattern in PATTERNS}
    names: set[str] = set()
    for run in CAPITALISED_RUN.finditer(text):  # every stretch of two words or more ("Ask Marta Kowalczyk")
        w = run.group(0).split()
        names |= {" ".join(w[i:j]) for i in range(len(w)) for j in range(i + 2, len(w) + 1)}
    spans["NAME_LIKE"] = names
    spans["DIGITS"] = {t.strip(".,;:!?()") for t in text.split() if len(t) >= 5 and any(c.isdigit() for c in t)}
    return spans


def identifier_spans(text: str) -> set[str]:
    return set().union(*typed_identifier_spans(text).values())


@dataclass(frozen=True)
class Replay:
    """One identifier type: candidates carrying one, those with one written out, and the members' ids."""

    members_with: int
    members_replayed: int
    non_members_with: int
    non_members_replayed: int
    member_ids: list[str]


def replay_by_type(candidates: TextSet, ids: list[str], synthetic: TextSet, is_member: np.ndarray) -> dict[str, Replay]:
    """Per identifier type: of the members (and of the non-members) that carry one, how many have one written
    out in the synthetic set as written, and the ids of the members that do (for the auditor's eyes only)."""
    corpus = "\n".join(synthetic.texts)
    found: dict[str, list[tuple[bool, bool]]] = {}
    for text in candidates.texts:
        for kind, spans in typed_identifier_spans(text).items():
            found.setdefault(kind, []).append((bool(spans), any(span in corpus for span in spans)))
    out = {}
    for kind, flags in found.items():
        has, hit = (np.array(x, bool) for x in zip(*flags, strict=True))
        out[kind] = Replay(
            int((has & is_member).sum()),
            int((hit & is_member).sum()),
            int((has & ~is_member).sum()),
            int((hit & ~is_member).sum()),
            [ids[i] for i in np.flatnonzero(hit & is_member)],
        )
    return out


def identifier_replay(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """How many of a candidate's identifier spans the synthetic set writes out, as written: a member's name,
    number or address reappearing is the leak a data owner fears most, whatever the text around it."""
    corpus = "\n".join(synthetic.texts)
    return np.array([sum(span in corpus for span in identifier_spans(t)) for t in candidates.texts], float)


MIN_VERBATIM_CHARS = 24
"""Shorter texts ("Great film.") recur in any corpus by chance; a longer one written out whole was copied."""


def verbatim_copies(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """Whether each candidate's whole text (stripped, at least MIN_VERBATIM_CHARS long) is written out inside a
    synthetic row: the bluntest leak, counted on its own rather than as one more score."""
    corpus = "\n".join(synthetic.texts)
    stripped = (t.strip() for t in candidates.texts)
    return np.array([len(t) >= MIN_VERBATIM_CHARS and t in corpus for t in stripped], bool)


RERUN_ATTACKS = ("rerun_similarity", "rerun_tfidf")


def rerun_attacks(shadows: TextSet, made: np.ndarray) -> dict[str, Attack]:
    """The re-run attack (for a method whose every output comes from one record): each candidate's own shadow
    output (`shadows`, aligned with the candidates; `made` False where the method kept no row for it) is
    matched against the released rows, by embedding and by TF-IDF. A member's released row and its shadow share
    the record's particulars, so they resemble each other more than a non-member's shadow resembles any row;
    the non-members calibrate the scale. A candidate without a shadow scores -1, below any cosine."""

    def through(similarity: Attack) -> Attack:
        return lambda _candidates, synthetic: np.where(made, similarity(shadows, synthetic), -1.0)

    return dict(zip(RERUN_ATTACKS, (through(nearest_similarity), through(tfidf_similarity)), strict=True))


SYNTHETIC_ONLY: dict[str, Attack] = {
    "identifier_replay": identifier_replay,
    "nearest_similarity": nearest_similarity,
    "tfidf_similarity": tfidf_similarity,
    "ngram_overlap": ngram_overlap,
    "rare_word_overlap": rare_word_overlap,
}

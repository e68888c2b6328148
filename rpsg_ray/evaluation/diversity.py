"""How varied the texts are: Self-BLEU (sacrebleu), distinct-n, and the length distribution against real."""

from __future__ import annotations

import numpy as np
from sacrebleu.metrics import BLEU
from scipy import stats

BLEU_SETTINGS = {"max_ngram_order": 4, "tokenize": "13a", "smooth_method": "exp", "lowercase": False}


def self_bleu(texts: list[str]) -> float:
    """Mean sentence BLEU of each text against all the others as references, on a 0–1 scale
    (1 = every text is repeated elsewhere in the set)."""
    if len(texts) < 2:
        return float("nan")
    bleu = BLEU(effective_order=True, **BLEU_SETTINGS)
    scores = [bleu.sentence_score(t, texts[:i] + texts[i + 1 :]).score for i, t in enumerate(texts)]
    return float(np.mean(scores)) / 100.0


def distinct_n(texts: list[str], n: int) -> float:
    """Unique n-grams over all n-grams in the set (lower-cased whitespace words)."""
    grams = [tuple(words[i : i + n]) for words in (t.lower().split() for t in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def word_counts(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts])


def length_ks(texts: list[str], real_texts: list[str]) -> float:
    """Kolmogorov–Smirnov distance between the word-count distributions (0 = same, 1 = disjoint)."""
    return float(stats.ks_2samp(word_counts(texts), word_counts(real_texts)).statistic)

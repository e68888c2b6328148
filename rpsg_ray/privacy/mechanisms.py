"""Gaussian report-noisy-max over a fixed-range score vector (the RPSG candidate selection).

Neighbouring relation: add/remove one private record. Records are disjoint and each record's
selection depends only on that record, so the per-record guarantee is the run's guarantee
(parallel composition). For one record, each score lies in the fixed interval [lo, hi] set by the
config (cosine clipped to [cos_min, cos_max], agreement in {0, 1}), never normalised on the data.
Any change of the record can move all K scores anywhere in that interval, so the L2 sensitivity of
the score vector is Δ₂ = (hi − lo)·√K. Releasing argmax(s + N(0, σ²I)) is post-processing of the
Gaussian mechanism on s, so it inherits the Gaussian mechanism's (ε, δ). With the retry pass
enabled, two such releases happen per record, and both are composed whether or not the retry
fires (firing depends on the private label).
"""

from __future__ import annotations

import math

import numpy as np


def score_range(w_cos: float, w_agree: float, w_disagree: float, cos_min: float, cos_max: float) -> tuple[float, float]:
    """[lo, hi] of score = w_cos·clip(cos) + w_agree·agree − w_disagree·(1 − agree), agree ∈ {0, ½, 1}."""
    candidates = []
    for cos in (cos_min, cos_max):
        candidates += [w_cos * cos - w_disagree, w_cos * cos + w_agree, w_cos * cos + 0.5 * w_agree]
    return min(candidates), max(candidates)


def selection_sensitivity(lo: float, hi: float, k: int) -> float:
    """L2 sensitivity of a K-vector of scores each confined to [lo, hi]."""
    return (hi - lo) * math.sqrt(k)


def score(
    cos: np.ndarray,
    agree: np.ndarray | float,
    labelled: bool,
    w_cos: float,
    w_agree: float,
    w_disagree: float,
    cos_min: float,
    cos_max: float,
) -> np.ndarray:
    """Candidate scores on the fixed range; `agree` is 1/0 per candidate (ignored when unlabelled)."""
    clipped = np.clip(cos, cos_min, cos_max)
    if not labelled:
        return w_cos * clipped + 0.5 * w_agree
    agree = np.asarray(agree, dtype=float)
    return w_cos * clipped + w_agree * agree - w_disagree * (1.0 - agree)


def noisy_argmax(scores: np.ndarray, sigma: float, seed: int) -> int:
    """argmax of scores + N(0, σ²) noise drawn from ``seed`` (σ = 0: exact argmax)."""
    if sigma <= 0:
        return int(np.argmax(scores))
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=len(scores))
    return int(np.argmax(scores + noise))

"""The one-run empirical ε lower bound (Steinke, Nasr and Jagielski, "Privacy auditing with one (1) training
run", NeurIPS 2023, Theorem 5.2 and Appendix D).

Before a run, each of m audit canaries enters the private input by its own secret fair coin. After it, an
attack scores every canary; the auditor guesses "in" for the k+ highest scores and "out" for the k- lowest,
and abstains on the rest. Under (ε, δ)-DP, the number of correct guesses among r = k+ + k- is at most
Binomial(r, e^ε/(1+e^ε)) in tail, up to a δ term that grows with m. The largest ε whose tail probability at
the observed count is still below 1 - confidence is a lower bound on the ε of what the run released, with
that confidence: a run whose claimed ε is below it breaks its claim.

The bound is computed at a few guess counts fixed in advance, each at confidence 1 - (1 - confidence)/G for
G counts (a Bonferroni correction), so choosing the best count after seeing the scores keeps the confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom

GUESS_SHARES = (0.05, 0.1, 0.2, 0.5)
"""Fractions of the canaries guessed (half "in" from the top, half "out" from the bottom), fixed in advance."""
EPSILON_CEILING = 50.0


def p_value(m: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P[at least `correct` of `guesses` right] under (ε, δ)-DP with m randomised canaries: the binomial tail
    at q = e^ε/(1+e^ε), plus 2mδ times the largest average of the binomial mass just below `correct`."""
    if not 0 <= correct <= guesses <= m:
        raise ValueError("need 0 <= correct <= guesses <= m")
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(binom.sf(correct - 1, guesses, q))
    if delta == 0 or correct == 0:
        return min(tail, 1.0)
    below = np.cumsum(binom.pmf(correct - np.arange(1, correct + 1), guesses, q))  # P[correct-i <= X < correct]
    alpha = float(np.max(below / np.arange(1, correct + 1)))
    return min(tail + alpha * 2 * m * delta, 1.0)


def epsilon_lower_bound(m: int, guesses: int, correct: int, delta: float, confidence: float = 0.95) -> float:
    """The largest ε that `correct` of `guesses` right rules out at `confidence` (0 when chance explains it)."""
    level = 1.0 - confidence
    if p_value(m, guesses, correct, 0.0, delta) >= level:
        return 0.0
    if p_value(m, guesses, correct, EPSILON_CEILING, delta) < level:
        return EPSILON_CEILING
    return float(brentq(lambda e: p_value(m, guesses, correct, e, delta) - level, 0.0, EPSILON_CEILING, xtol=1e-6))


@dataclass(frozen=True)
class EmpiricalEpsilon:
    epsilon: float
    guesses: int
    correct: int
    canaries: int
    delta: float
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {
            "epsilon_empirical": round(self.epsilon, 4),
            "guesses": self.guesses,
            "correct": self.correct,
            "canaries": self.canaries,
            "delta": self.delta,
            "confidence": self.confidence,
            "method": "one-run audit (Steinke, Nasr and Jagielski 2023), Bonferroni over guess counts "
            + ", ".join(f"{s:g}" for s in GUESS_SHARES),
        }


def audit_one_run(scores: np.ndarray, included: np.ndarray, delta: float, confidence: float = 0.95) -> EmpiricalEpsilon:
    """The best bound over the fixed guess counts: "in" for the highest scores, "out" for the lowest, equally
    many of each, every count at the Bonferroni-corrected confidence."""
    scores, included = np.asarray(scores, float), np.asarray(included, bool)
    m = len(scores)
    order = np.argsort(-scores, kind="stable")
    level = 1.0 - (1.0 - confidence) / len(GUESS_SHARES)
    best = EmpiricalEpsilon(0.0, 0, 0, m, delta, confidence)
    for share in GUESS_SHARES:
        half = max(1, int(share * m / 2))
        if 2 * half > m:
            continue
        correct = int(included[order[:half]].sum() + (~included[order[-half:]]).sum())
        bound = epsilon_lower_bound(m, 2 * half, correct, delta, level)
        if bound > best.epsilon:
            best = EmpiricalEpsilon(bound, 2 * half, correct, m, delta, confidence)
    return best

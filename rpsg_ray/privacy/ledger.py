"""The privacy ledger: what noise was used, what (ε, δ) it buys, and exactly what that covers.

Every ε that rpsg_ray prints comes from here, so RPSG, AUG-PE and DP-SGD numbers in a comparison
are computed by the same code with the same δ convention.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from rpsg_ray.privacy.accountant import (
    ACCOUNTANT,
    GaussianComposition,
    calibrate_sigma,
    default_delta,
    library_version,
)
from rpsg_ray.privacy.mechanisms import score_range, selection_sensitivity

RPSG_COVERS = [
    "Which of the K candidate abstractions of each seed is released to the rewrite stage "
    "(Gaussian report-noisy-max on fixed-range scores; the retry selection is composed whenever enabled).",
]
RPSG_NOT_COVERED = [
    "The candidates themselves: they are generated from the private record, so every option carries its content.",
    "The sentiment label (from the input or a classifier) and the length target (from the seed's word count) "
    "go into prompts and scores without noise.",
    "The decision to run the retry pass depends on the private label.",
    "The NLL filter's bounds may be calibrated on private records, and the similarity filter compares every "
    "output with every private record; which rows survive depends on private data.",
    "Prompts sent to the generator carry private-derived text (the released abstraction and its rewrites).",
    "PII redaction is heuristic (regexes + NER) and gives no guarantee.",
    "End to end, the synthetic dataset has NO formal (ε, δ)-DP guarantee with respect to the private records; "
    "its privacy rests on the empirical audit.",
]


@dataclass
class Ledger:
    method: str
    mechanism: str
    epsilon: float | None
    delta: float | None
    sigma: float
    sensitivity: float | None
    composition: dict[str, Any]
    neighbouring: str
    accountant: str
    accountant_version: str
    n_private_records: int
    delta_source: str
    scope: dict[str, list[str]]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.epsilon is None:
            return f"{self.method}: no noise (epsilon: null); NO formal privacy guarantee."
        covered = self.scope["covers"][0].rstrip(".")
        return (
            f"{self.method}: (ε={self.epsilon:g}, δ={self.delta:.3g})-DP for {covered[0].lower()}{covered[1:]} "
            f"(σ={self.sigma:.4g}, Δ₂={self.sensitivity:.4g}, {self.composition['count']} composed Gaussian "
            f"release(s) per record; {self.accountant.split(' (')[0]}). Not covered: see ledger scope."
        )


def resolve_delta(delta: float | None, n_records: int) -> tuple[float, str, list[str]]:
    """The δ to use, where it came from, and warnings when it is too large for the dataset size."""
    notes: list[str] = []
    if delta is None:
        return default_delta(n_records), f"default 1/(N·ln N) with N = {n_records} counted private records", notes
    if delta >= 1.0 / max(n_records, 1):
        notes.append(f"δ = {delta:g} is ≥ 1/N = {1.0 / max(n_records, 1):.3g}: such a δ permits leaking a whole record")
        warnings.warn(notes[-1], stacklevel=2)
    return delta, "configured", notes


def rpsg_ledger(
    epsilon: float | None,
    delta: float | None,
    n_records: int,
    k: int,
    selections: int,
    weights: dict[str, float],
) -> Ledger:
    """Calibrate σ for the RPSG selection and describe it. epsilon=None: no noise, no claim."""
    lo, hi = score_range(**weights)
    sensitivity = selection_sensitivity(lo, hi, k)
    composition = {"count": selections, "kind": "per-record sequential; parallel across disjoint records"}
    scope = {"covers": RPSG_COVERS, "not_covered": RPSG_NOT_COVERED}
    neighbouring = "add/remove one private record (its K-score vector moves anywhere in [lo, hi]^K)"
    mechanism = f"Gaussian report-noisy-max over K={k} candidate scores in fixed range [{lo:g}, {hi:g}]"
    if epsilon is None:
        return Ledger(
            "rpsg",
            mechanism,
            None,
            None,
            0.0,
            sensitivity,
            composition,
            neighbouring,
            "none",
            "none",
            n_records,
            "n/a",
            {"covers": [], "not_covered": ["Everything: no noise is added."]},
            ["no formal guarantee: privacy.epsilon is null"],
        )
    d, source, notes = resolve_delta(delta, n_records)
    sigma = calibrate_sigma(epsilon, d, sensitivity, selections)
    return Ledger(
        "rpsg",
        mechanism,
        epsilon,
        d,
        sigma,
        sensitivity,
        composition,
        neighbouring,
        ACCOUNTANT,
        library_version(),
        n_records,
        source,
        scope,
        notes,
    )


def augpe_ledger(
    epsilon: float | None, delta: float | None, n_records: int, iterations: int, sigma: float | None = None
) -> Ledger:
    """AUG-PE: T Gaussian histogram releases, sensitivity 1 (each record votes once) → μ = √T/σ."""
    d, source, notes = resolve_delta(delta, n_records)
    if sigma is None:
        if epsilon is None:
            raise ValueError("AUG-PE needs epsilon or sigma")
        sigma = calibrate_sigma(epsilon, d, 1.0, iterations)
    eps = GaussianComposition(1.0, sigma, iterations).epsilon(d)
    return Ledger(
        "augpe",
        "Gaussian noise on nearest-neighbour vote histograms (sensitivity 1)",
        eps,
        d,
        sigma,
        1.0,
        {"count": iterations, "kind": "sequential over iterations; μ-GDP μ = √T/σ"},
        "add/remove one private record (it casts one vote per iteration)",
        ACCOUNTANT,
        library_version(),
        n_records,
        source,
        {
            "covers": ["The whole released synthetic set: the generator never sees private text; only noisy votes do."],
            "not_covered": ["The public generator's own training data (assumed public)."],
        },
        notes,
    )


def epsilon_or_inf(ledger: Ledger) -> float:
    return math.inf if ledger.epsilon is None else ledger.epsilon

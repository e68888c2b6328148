"""The privacy ledger: what noise was used, what (ε, δ) it buys, and exactly what that covers.

Every ε that rpsg_ray prints comes from here, for a run and for `rpsg account` alike, so RPSG and
AUG-PE numbers in a comparison are computed by the same code, from the same config fields, with the
same δ convention.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rpsg_ray.privacy.accountant import (
    ACCOUNTANT,
    DPSGD_ACCOUNTANT,
    GaussianComposition,
    PrivacyParameterError,
    calibrate_sigma,
    default_delta,
    dpsgd_epsilon,
    dpsgd_noise_multiplier,
    library_version,
)
from rpsg_ray.privacy.mechanisms import p_best_for_gap, score_range, selection_sensitivity

if TYPE_CHECKING:
    from rpsg_ray.config import Config

KEY_ASSUMPTION = (
    "The noise is drawn from the run's secret key (private/run.key, 256 bits, never published). The guarantee "
    "holds only while that key stays secret: anyone holding it can recompute and subtract the noise."
)
RPSG_COVERS = [
    "Component-level only: which of the K candidate abstractions of each seed is released to the rewrite stage "
    "(Gaussian report-noisy-max on fixed-range scores; the retry selection is composed whenever enabled). "
    "With the K candidates fixed and the record's slot public, the released index is (ε, δ)-DP with respect to "
    "the record's score vector in [lo, hi]^K.",
]
RPSG_NOT_COVERED = [
    "Dataset-level add/remove DP: a record's presence decides which rows exist, the seed sample's rank spans all "
    "ids, and first-occurrence de-duplication lets an added row displace another record.",
    "The candidates themselves: they are generated from the private record, so every option carries its content.",
    "The sentiment label (from the input or a classifier) and the length target (from the seed's word count) "
    "go into prompts and scores without noise; each published row carries its seed's label.",
    "The decision to run the retry pass depends on the private label.",
    "The NLL filter's bounds are calibrated on a keyed random sample of private records, and the similarity filter "
    "compares every output with every private record; which rows survive depends on private data.",
    "Prompts sent to the generator carry private-derived text (the released abstraction and its rewrites).",
    "PII redaction is heuristic (regexes + NER) and gives no guarantee.",
    "End to end, the synthetic dataset has NO formal (ε, δ)-DP guarantee with respect to the private records; "
    "its privacy rests on the empirical audit.",
]
PUBLISHED_PRIVATE_DERIVED = [
    "N, the count of valid private records (it sets δ), in this ledger and the public manifest.",
    "The number of published synthetic rows (visible from the file itself).",
    "Each published row's label, which is its seed's label.",
]
GAPS = (0.05, 0.1, 0.25, 0.5)


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
    n_private_records: int | None
    delta_source: str
    scope: dict[str, list[str]]
    key_assumption: str = KEY_ASSUMPTION
    published_private_derived: list[str] = field(default_factory=list)
    selection_utility: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.epsilon is None:
            return f"{self.method}: no noise; NO formal privacy guarantee ({self.warnings[0]})."
        head = (
            f"{self.method}: (ε={self.epsilon:g}, δ={self.delta:.3g}), σ={self.sigma:.4g}, Δ₂={self.sensitivity:.4g}, "
            f"{self.composition['count']} composed Gaussian release(s); {self.accountant.split(' (')[0]}"
        )
        if self.method != "rpsg":
            return f"{head}. Covers: {self.scope['covers'][0]}"
        u = self.selection_utility
        return (
            f"{head}. Component-level: the choice among K={u['k']} candidates; no dataset-level DP. At this ε the "
            f"pick is the best candidate with probability {u['p_best_at_full_range']:.2f} even when it leads by the "
            f"whole score range (uniform: {u['uniform']:.2f})."
        )


def resolve_delta(delta: float | None, n_records: int | None, allow_large: bool) -> tuple[float, str, list[str]]:
    """The δ to use and where it came from; δ ≥ 1/N (a δ that permits leaking a whole record) is refused
    unless ``allow_large`` is set explicitly."""
    if delta is None:
        if not n_records:
            raise PrivacyParameterError("delta is required when the number of private records is unknown")
        return default_delta(n_records), f"default 1/(N·ln N) with N = {n_records} counted private records", []
    if not n_records:
        return delta, "configured (N unknown: δ < 1/N not checked)", []
    if delta >= 1.0 / n_records:
        note = f"δ = {delta:g} is ≥ 1/N = {1.0 / n_records:.3g}: such a δ permits leaking a whole record"
        if not allow_large:
            raise PrivacyParameterError(f"{note}; lower privacy.delta or set privacy.allow_large_delta: true")
        return delta, "configured (allow_large_delta)", [note]
    return delta, "configured", []


def _selection_weights(cfg: Config) -> dict[str, float]:
    s = cfg.stages.select
    return {"w_cos": s.w_cos, "w_agree": s.w_agree, "w_disagree": s.w_disagree} | {
        "cos_min": s.cos_min,
        "cos_max": s.cos_max,
    }


def selection_utility(sigma: float, k: int, lo: float, hi: float) -> dict[str, Any]:
    """What the noisy selection buys at σ: P(pick = best) when the best leads the others by a given gap."""
    return {
        "k": k,
        "uniform": 1.0 / k,
        "p_best_at_gap": {str(g): p_best_for_gap(g, sigma, k) for g in GAPS},
        "p_best_at_full_range": p_best_for_gap(hi - lo, sigma, k),
        "meaning": "probability that the released candidate is the best-scoring one, if it leads every other "
        "candidate by the gap; the run's own observed gaps are in the private manifest",
    }


def rpsg_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """Calibrate σ for the RPSG selection (or take a given σ) and describe it; epsilon null: no noise, no claim."""
    k, selections = cfg.stages.abstract.candidates, cfg.stages.select.selections
    lo, hi = score_range(**_selection_weights(cfg))
    sensitivity = selection_sensitivity(lo, hi, k)
    composition = {"count": selections, "kind": "sequential per record (the retry is counted whenever enabled)"}
    neighbouring = (
        "one record's K-score vector replaced by any other in [lo, hi]^K, with the K candidates fixed and the "
        "record's slot public (not dataset-level add/remove)"
    )
    mechanism = f"Gaussian report-noisy-max over K={k} candidate scores in fixed range [{lo:g}, {hi:g}]"
    eps = cfg.privacy.epsilon
    if eps is None and sigma is None:
        return no_guarantee(
            "rpsg",
            mechanism,
            n_records,
            "Everything: no noise is added.",
            "no formal guarantee: privacy.epsilon is null",
            sensitivity=sensitivity,
            composition=composition,
            neighbouring=neighbouring,
            published=PUBLISHED_PRIVATE_DERIVED,
            selection=selection_utility(0.0, k, lo, hi),
        )
    d, source, notes = resolve_delta(cfg.privacy.delta, n_records, cfg.privacy.allow_large_delta)
    if sigma is None:
        sigma = calibrate_sigma(eps, d, sensitivity, selections)
    else:
        eps = GaussianComposition(sensitivity, sigma, selections).epsilon(d)
    return Ledger(
        "rpsg",
        mechanism,
        eps,
        d,
        sigma,
        sensitivity,
        composition,
        neighbouring,
        ACCOUNTANT,
        library_version(),
        n_records,
        source,
        {"covers": RPSG_COVERS, "not_covered": RPSG_NOT_COVERED},
        published_private_derived=PUBLISHED_PRIVATE_DERIVED,
        selection_utility=selection_utility(sigma, k, lo, hi),
        warnings=notes,
    )


def augpe_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """AUG-PE: T Gaussian histogram releases, sensitivity 1 (each record votes once) → μ = √T/σ."""
    iterations = cfg.augpe.iterations
    d, source, notes = resolve_delta(cfg.privacy.delta, n_records, cfg.privacy.allow_large_delta)
    if sigma is None:
        if cfg.privacy.epsilon is None:
            raise PrivacyParameterError("AUG-PE needs privacy.epsilon or a sigma")
        sigma = calibrate_sigma(cfg.privacy.epsilon, d, 1.0, iterations)
    eps = GaussianComposition(1.0, sigma, iterations).epsilon(d)
    return Ledger(
        "augpe",
        "Gaussian noise on nearest-neighbour vote histograms (sensitivity 1)",
        eps,
        d,
        sigma,
        1.0,
        {"count": iterations, "kind": "sequential over iterations; μ-GDP μ = √T/σ"},
        "add/remove one private record (it casts one vote per iteration; every row of a duplicated id is set "
        "aside, so one id never votes twice)",
        ACCOUNTANT,
        library_version(),
        n_records,
        source,
        {
            "covers": ["The whole released synthetic set: the generator never sees private text; only noisy votes do."],
            "not_covered": ["The public generator's own training data (assumed public)."],
        },
        published_private_derived=PUBLISHED_PRIVATE_DERIVED[:2],
        warnings=notes,
    )


def dpsgd_sample_rate(cfg: Config, n_records: int) -> float:
    return min(1.0, cfg.dpsgd.expected_batch_size / max(n_records, 1))


def dpsgd_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """DP-SGD: `steps` Poisson-subsampled Gaussian steps on clipped per-sample gradients; ε from opacus' PRV
    accountant. `sigma` is the noise multiplier σ/C; epsilon null and no sigma: no noise, no claim."""
    d = cfg.dpsgd
    if not n_records:
        raise PrivacyParameterError("DP-SGD needs the number of private records (--records) for its sampling rate")
    q = dpsgd_sample_rate(cfg, n_records)
    mechanism = (
        f"DP-SGD (opacus): per-sample clipping at C={d.max_grad_norm:g}, Poisson sampling at q={q:.4g}, "
        f"{d.steps} steps; only the linear layers of the last {d.trainable_layers} blocks of {d.model} train"
    )
    composition = {"count": d.steps, "kind": "Poisson-subsampled Gaussian steps", "sample_rate": q}
    neighbouring = "add/remove one private record (one training example; every row of a duplicated id is set aside)"
    if cfg.privacy.epsilon is None and sigma is None:
        return no_guarantee(
            "dpsgd",
            mechanism,
            n_records,
            "Everything: the model is fine-tuned without noise.",
            "no formal guarantee: privacy.epsilon is null (ε = ∞ reference run)",
            sensitivity=d.max_grad_norm,
            composition=composition,
            neighbouring=neighbouring,
        )
    delta, source, notes = resolve_delta(cfg.privacy.delta, n_records, cfg.privacy.allow_large_delta)
    if sigma is None:
        sigma = dpsgd_noise_multiplier(cfg.privacy.epsilon, delta, q, d.steps)
    return Ledger(
        "dpsgd",
        mechanism,
        dpsgd_epsilon(sigma, delta, q, d.steps),
        delta,
        sigma,
        d.max_grad_norm,
        composition,
        neighbouring,
        DPSGD_ACCOUNTANT,
        library_version(),
        n_records,
        source,
        {
            "covers": [
                "The whole released synthetic set, end to end: the fine-tuned model is (ε, δ)-DP and every sample "
                "drawn from it is post-processing (labels are chosen without looking at private data)."
            ],
            "not_covered": ["The public base model's own training data (assumed public)."],
        },
        published_private_derived=PUBLISHED_PRIVATE_DERIVED[:2],
        warnings=notes,
    )


def rupta_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """RUPTA adds no noise anywhere: the ledger says so, and what the method does instead."""
    return no_guarantee(
        "rupta",
        f"one-to-one LLM anonymisation with privacy and utility feedback, up to {cfg.rupta.rounds} rounds",
        n_records,
        "Everything: the generator reads each private record and rewrites it, and no noise is added. Its privacy "
        "rests on the evaluators' feedback (heuristic) and on the empirical audit.",
        "no formal guarantee: RUPTA is not differentially private",
        published=[*PUBLISHED_PRIVATE_DERIVED, "Each published row rewrites one private record."],
    )


def no_guarantee(
    method: str,
    mechanism: str,
    n_records: int | None,
    not_covered: str,
    warning: str,
    sensitivity: float | None = None,
    composition: dict[str, Any] | None = None,
    neighbouring: str = "n/a",
    published: list[str] | None = None,
    selection: dict[str, Any] | None = None,
) -> Ledger:
    """The ledger of a run that adds no noise: no ε, no accountant, and the reason in words."""
    return Ledger(
        method,
        mechanism,
        None,
        None,
        0.0,
        sensitivity,
        composition or {"count": 0, "kind": "none"},
        neighbouring,
        "none",
        "none",
        n_records,
        "n/a",
        {"covers": [], "not_covered": [not_covered]},
        published_private_derived=published or PUBLISHED_PRIVATE_DERIVED[:2],
        selection_utility=selection or {},
        warnings=[warning],
    )


LEDGERS = {"rpsg": rpsg_ledger, "augpe": augpe_ledger, "dpsgd": dpsgd_ledger, "rupta": rupta_ledger}


def ledger_for(cfg: Config, method: str, n_records: int | None, sigma: float | None = None) -> Ledger:
    return LEDGERS[method](cfg, n_records, sigma)

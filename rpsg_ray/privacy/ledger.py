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
from rpsg_ray.privacy.mechanisms import p_agreeing_pick, p_best_for_gap, score_range, selection_sensitivity
from rpsg_ray.privacy.private_prediction import ACCOUNTANT as PREDICTION_ACCOUNTANT
from rpsg_ray.privacy.private_prediction import PredictionBudget, calibrate_clip
from rpsg_ray.privacy.private_prediction import library_version as prediction_library_version

if TYPE_CHECKING:
    from rpsg_ray.config import Config

KEY_ASSUMPTION = (
    "The noise is drawn from the run's secret key (private/run.key, 256 bits, never published). The guarantee "
    "holds only while that key stays secret: anyone holding it can recompute and subtract the noise."
)
RPSG_RELATION = (
    "Neighbours differ in one record's cosines to its K candidate abstractions (clipped to [cos_min, cos_max]), "
    "with the candidates, the record's label and its place in the run fixed and public: component-level, not the "
    "addition or removal of a record."
)
RPSG_SCOPE = (
    "Covers only which of the K candidate abstractions of each seed is passed to the rewrite stage (both "
    "selections of the retry pass composed); the synthetic dataset as a whole has no formal DP guarantee."
)
RPSG_COVERS = [
    "Component-level only: which of the K candidate abstractions of each seed is released to the rewrite stage "
    "(Gaussian report-noisy-max on fixed-range scores). With the K candidates and the seed's label fixed and "
    "public, each candidate's agreement with the label is a public shift of its score, and the released index is "
    "(ε, δ)-DP with respect to the record's cosine vector in [cos_min, cos_max]^K (Δ₂ = w_cos·(cos_max − "
    "cos_min)·√K). The retry pass runs when the released pick disagrees with the public label; its selection is "
    "composed adaptively, and counted whenever the retry is enabled.",
]
RPSG_NOT_COVERED = [
    "Dataset-level add/remove DP: a record's presence decides which rows exist, the seed sample's rank spans all "
    "ids, and first-occurrence de-duplication lets an added row displace another record.",
    "The candidates themselves: they are generated from the private record, so every option carries its content.",
    "The label (from the input; for sentiment labels missing from it, from a classifier) is treated as public: "
    "its public description goes into prompts, it shifts scores without noise, decides whether the retry runs, "
    "and each published row carries it. The length target (from the seed's word count) goes into prompts "
    "without noise.",
    "The NLL filter's bounds are calibrated on a keyed random sample of private records, and the similarity filter "
    "compares every output with every private record; which rows survive depends on private data.",
    "Prompts sent to the generator carry private-derived text: the seed scrubbed of the identifiers the redactor "
    "finds, the released abstraction and its rewrites.",
    "PII redaction is heuristic (regexes + NER) and gives no guarantee.",
    "End to end, the synthetic dataset has NO formal (ε, δ)-DP guarantee with respect to the private records; "
    "its privacy rests on the empirical audit.",
]
COUNTED = "the counted number of private records"
COUNTED_N = (
    "N, the count of valid private records, is published (ledger and public manifest) and sets δ's default "
    "1/(N·ln N): this relation does not protect whether a record is present, so N is not protected either."
)
PUBLIC_N = (
    "The count of private records is not published: δ's default 1/(n·ln n){rate} uses n = privacy.public_records "
    "= {n}, a size the data owner declared public, and the number of published rows and their labels are fixed "
    "by the config."
)
PUBLISHED_COUNTED = [
    "N, the count of valid private records (it sets δ), in this ledger and the public manifest.",
    "The number of published synthetic rows (one per seed that passed every filter, so it depends on private data).",
    "Each published row's label, which is its seed's label.",
]
PUBLISHED_ADD_REMOVE = [
    "The synthetic texts: post-processing of the DP release (noisy votes, or the DP fine-tuned model).",
    "Nothing else: the published row count and the labels' counts are fixed by the config, and N is not published "
    "(privacy.public_records, a declared public figure, stands in for it).",
]
GAPS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class Ledger:
    method: str
    mechanism: str
    epsilon: float | None
    delta: float | None
    sigma: float | None
    """The Gaussian noise scale (DP-SGD: the noise multiplier σ/C); 0.0 where no noise is added (no guarantee);
    None for rpsg_dp, which adds none but samples each token by the exponential mechanism (its temperature is in
    `mechanism`)."""
    sensitivity: float | None
    composition: dict[str, Any]
    neighbouring: str
    accountant: str
    accountant_version: str
    n_private_records: int | None
    delta_source: str
    scope: dict[str, list[str]]
    about_n: str = ""
    scope_summary: str = ""
    public_records: int | None = None
    key_assumption: str = KEY_ASSUMPTION
    published_private_derived: list[str] = field(default_factory=list)
    selection_utility: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dataset_level: bool = False
    """Whether ε covers the whole released set against one record's presence (what an empirical audit of the
    output can test): AUG-PE's and DP-SGD's; RPSG's covers one component per record."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def statement(self) -> str:
        """The relation, what is published about N, and the scope: one sentence each, as printed everywhere."""
        return f"Neighbouring: {self.neighbouring}\nN: {self.about_n}\nScope: {self.scope_summary}"

    def summary(self) -> str:
        if self.epsilon is None:
            return f"{self.method}: no noise; NO formal privacy guarantee ({self.warnings[0]})."
        if self.method == "rpsg_dp":
            c = self.composition
            head = (
                f"{self.method}: (ε={self.epsilon:g}, δ={self.delta:.3g}), clip C={c['clip']:.4g}, "
                f"η={self.sensitivity:.4g} per token, {c['count']} composed token mechanism(s) per record"
            )
            return f"{head}. {self.scope_summary}"
        head = (
            f"{self.method}: (ε={self.epsilon:g}, δ={self.delta:.3g}), σ={self.sigma:.4g}, Δ₂={self.sensitivity:.4g}, "
            f"{self.composition['count']} composed Gaussian release(s); {self.accountant.split(' (')[0]}"
        )
        if self.method != "rpsg":
            return f"{head}. {self.scope_summary}"
        u = self.selection_utility
        return (
            f"{head}. Component-level: the choice among K={u['k']} candidates (label public); no dataset-level DP. "
            f"At this ε one selection releases the best candidate with probability {u['p_best_at_full_range']:.2f} "
            f"even when it leads by the whole score range (uniform: {u['uniform']:.2f})."
        )


def resolve_delta(delta: float | None, n: int | None, allow_large: bool, n_name: str) -> tuple[float, str, list[str]]:
    """The δ to use and where it came from; δ ≥ 1/n (a δ that permits leaking a whole record) is refused
    unless ``allow_large`` is set explicitly. ``n_name`` says what n is, for the ledger."""
    if delta is None:
        if not n:
            raise PrivacyParameterError(f"privacy.delta is required when {n_name} is unknown")
        return default_delta(n), f"default 1/(n·ln n) with n = {n}, {n_name}", []
    if not n:
        return delta, f"configured ({n_name} unknown: δ < 1/n not checked)", []
    if delta >= 1.0 / n:
        note = f"δ = {delta:g} is ≥ 1/n = {1.0 / n:.3g} ({n_name}): such a δ permits leaking a whole record"
        if not allow_large:
            raise PrivacyParameterError(f"{note}; lower privacy.delta or set privacy.allow_large_delta: true")
        return delta, "configured (allow_large_delta)", [note]
    return delta, "configured", []


def add_remove_delta(cfg: Config) -> tuple[float, str, list[str]]:
    """δ for a method that protects a record's presence: from privacy.delta or privacy.public_records, checked
    against the declared size only. The counted N is never consulted: a run refused on it would itself reveal
    that N ≥ 1/δ."""
    p = cfg.privacy
    return resolve_delta(p.delta, p.public_records, p.allow_large_delta, "privacy.public_records")


def add_remove_n(cfg: Config, rate: str = "") -> str:
    """The add/remove methods' sentence on N, for a δ from the declared size or a configured one."""
    if cfg.privacy.public_records is None:
        return (
            "The count of private records is not published: δ is configured (privacy.delta), and the number of "
            "published rows and their labels are fixed by the config."
        )
    return PUBLIC_N.format(rate=rate, n=cfg.privacy.public_records)


def _selection_weights(cfg: Config) -> dict[str, float]:
    s = cfg.rpsg.select
    return {"w_cos": s.w_cos, "w_agree": s.w_agree, "w_disagree": s.w_disagree} | {
        "cos_min": s.cos_min,
        "cos_max": s.cos_max,
    }


def selection_utility(sigma: float, cfg: Config) -> dict[str, Any]:
    """What the noisy selection buys at σ: P(pick = best) when the best leads the others by a given gap, for
    each selection, and P(the final pick agrees with the label) with and without the retry pass."""
    s, k = cfg.rpsg.select, cfg.rpsg.abstract.candidates
    lo, hi = score_range(**_selection_weights(cfg))
    lead = s.w_agree + s.w_disagree
    return {
        "label_scorer": label_scorer(cfg),
        "k": k,
        "uniform": 1.0 / k,
        "p_best_at_gap": {str(g): p_best_for_gap(g, sigma, k) for g in GAPS},
        "p_best_at_full_range": p_best_for_gap(hi - lo, sigma, k),
        "p_agreeing_pick": {
            "single_selection": p_agreeing_pick(lead, sigma, k, retry=False),
            "final": p_agreeing_pick(lead, sigma, k, retry=s.retry),
            "scenario": f"one of the K candidates agrees with the label (a lead of {lead:g} at equal cosines) and "
            "so does one of the retry's K−1 fresh samples",
        },
        "meaning": "p_best_*: probability that one selection releases the best-scoring candidate if it leads every "
        "other by the gap; p_agreeing_pick.final: the distribution of the final pick, retry included. The run's own "
        "observed rates are in the private manifest",
    }


def label_scorer(cfg: Config) -> str:
    """Which public scorer judged agreement with the label (no private data in either)."""
    d = cfg.domain
    if d.labels:
        return (
            f"zero-shot: {d.label_embedder} embeddings, closest of the {len(d.labels)} declared classes' public "
            "descriptions"
        )
    return f"sentiment classifier {cfg.rpsg.select.classifier} (positive/negative)"


def rpsg_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """Calibrate σ for the RPSG selection (or take a given σ) and describe it; epsilon null: no noise, no claim."""
    k, selections, s = cfg.rpsg.abstract.candidates, cfg.rpsg.select.selections, cfg.rpsg.select
    lo, hi = score_range(**_selection_weights(cfg))
    sensitivity = selection_sensitivity(s.w_cos, s.cos_min, s.cos_max, k)
    composition = {"count": selections, "kind": "adaptive, per record (the retry is counted whenever enabled)"}
    mechanism = f"Gaussian report-noisy-max over K={k} candidate scores in fixed range [{lo:g}, {hi:g}]"
    sentences = {"about_n": COUNTED_N, "scope_summary": RPSG_SCOPE}
    eps = cfg.rpsg.epsilon
    if eps is None and sigma is None:
        return no_guarantee(
            "rpsg",
            mechanism,
            n_records,
            "Everything: no noise is added.",
            "no formal guarantee: rpsg.epsilon is null",
            sensitivity=sensitivity,
            composition=composition,
            neighbouring=RPSG_RELATION,
            published=PUBLISHED_COUNTED,
            selection=selection_utility(0.0, cfg),
        )
    d, source, notes = resolve_delta(cfg.privacy.delta, n_records, cfg.privacy.allow_large_delta, COUNTED)
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
        RPSG_RELATION,
        ACCOUNTANT,
        library_version(),
        n_records,
        source,
        {"covers": RPSG_COVERS, "not_covered": RPSG_NOT_COVERED},
        **sentences,
        published_private_derived=PUBLISHED_COUNTED,
        selection_utility=selection_utility(sigma, cfg),
        warnings=notes,
    )


def augpe_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """AUG-PE: T Gaussian histogram releases, sensitivity 1 (each record votes once) → μ = √T/σ. Add/remove
    relation, so the counted N (``n_records``) is neither used nor written into the ledger."""
    iterations = cfg.augpe.iterations
    d, source, notes = add_remove_delta(cfg)
    if sigma is None:
        sigma = calibrate_sigma(cfg.augpe.epsilon, d, 1.0, iterations)
    eps = GaussianComposition(1.0, sigma, iterations).epsilon(d)
    scope = "Covers the whole released synthetic set: the generator never sees private text; only noisy votes do."
    return Ledger(
        "augpe",
        "Gaussian noise on nearest-neighbour vote histograms (sensitivity 1)",
        eps,
        d,
        sigma,
        1.0,
        {"count": iterations, "kind": "sequential over iterations; μ-GDP μ = √T/σ"},
        "Neighbours differ by the addition or removal of one private record (it casts one vote per iteration; every "
        "row of a duplicated id is set aside, so one id never votes twice).",
        ACCOUNTANT,
        library_version(),
        None,
        source,
        {"covers": [scope], "not_covered": ["The public generator's own training data (assumed public)."]},
        about_n=add_remove_n(cfg),
        scope_summary=scope,
        public_records=cfg.privacy.public_records,
        published_private_derived=PUBLISHED_ADD_REMOVE,
        warnings=notes,
        dataset_level=True,
    )


RPSG_DP_SCOPE = (
    "Covers the whole released synthetic set: every token of every draft is sampled by the exponential mechanism "
    "from clipped, averaged logits; everything after (redaction, the quality check) reads only the drafts."
)


RPSG_DP_PUBLISHED = [
    "The synthetic texts: the privately sampled drafts, redacted and checked by public rules (post-processing).",
    "The published row count and the labels' counts: the drafts' count is fixed by the config (groups · labels · "
    "m); the quality check's drops are a function of the drafts alone. N is not published (privacy.public_records, "
    "a declared public figure, stands in for it).",
]


def rpsg_dp_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """RPSG-DP: per token, a bounded-range exponential mechanism (η = 2C/(sτ)); composed in zCDP over the tokens
    of every draft of a record's own group (groups are disjoint), converted to (ε, δ). C is calibrated to
    rpsg_dp.epsilon; null: no clip, no claim. Add/remove relation: the counted N is neither used nor written."""
    d = cfg.rpsg_dp
    term = "(z_i − z_pub)" if d.epsilon is None else "clip(z_i − z_pub, ±C)"
    mechanism = (
        f"exponential mechanism per token over the public top-{d.top_k}: softmax(z̄/τ), z̄ = z_pub + (1/s)·Σ "
        f"{term}, s = {d.group_size}, τ = {d.temperature:g}"
    )
    if d.epsilon is None:
        return no_guarantee(
            "rpsg_dp",
            mechanism,
            None,
            "Everything: the records' logit differences are not clipped, so one record can decide any token.",
            "no formal guarantee: rpsg_dp.epsilon is null",
            composition={"count": 0, "kind": "none", "clip": None},
            published=RPSG_DP_PUBLISHED,
            about_n=add_remove_n(cfg),
            public_records=cfg.privacy.public_records,
        )
    delta, source, notes = add_remove_delta(cfg)
    clip = calibrate_clip(d.epsilon, delta, d.group_size, d.temperature, d.max_tokens, d.outputs_per_group)
    budget = PredictionBudget(clip, d.group_size, d.temperature, d.max_tokens, d.outputs_per_group)
    return Ledger(
        "rpsg_dp",
        mechanism,
        budget.epsilon(delta),
        delta,
        None,
        budget.eta,
        budget.describe(delta),
        "Neighbours differ by the addition or removal of one private record: it sits in one group (by a keyed hash "
        "of its own id, so no other record moves), where it adds one clipped term to every token's logits; every "
        "row of a duplicated id is set aside.",
        PREDICTION_ACCOUNTANT,
        prediction_library_version(),
        None,
        source,
        {
            "covers": [RPSG_DP_SCOPE],
            "not_covered": [
                "The public model's own training data (assumed public).",
                "PII redaction of the drafts is heuristic; it is post-processing and needs no guarantee.",
                "Floating point: the private prompts of a call run in one batch, so a record's presence can move "
                "the other records' logits at rounding level (padding width, batch shape), beyond C/s; the public "
                "logits and their top-k run apart and depend on public values only. Not hardened, like floating-"
                "point DP implementations generally (Mironov 2012).",
                "A group far larger than s (a skewed label, or a real N far above privacy.public_records) costs "
                "memory in proportion: a run that fails for it reveals that much.",
            ],
        },
        about_n=add_remove_n(cfg),
        scope_summary=RPSG_DP_SCOPE,
        public_records=cfg.privacy.public_records,
        published_private_derived=RPSG_DP_PUBLISHED,
        warnings=notes,
        dataset_level=True,
    )


def dpsgd_sample_rate(cfg: Config) -> float:
    """q = expected_batch_size / privacy.public_records: a public rate, so the realised batches (mean q·N)
    reveal nothing the accountant does not cover."""
    n = cfg.privacy.public_records
    if not n:
        raise PrivacyParameterError(
            "DP-SGD needs privacy.public_records (a size of the private set that may be published) for its "
            "sampling rate: the counted N is private under add/remove"
        )
    return min(1.0, cfg.dpsgd.expected_batch_size / n)


def dpsgd_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """DP-SGD: `steps` Poisson-subsampled Gaussian steps on clipped per-sample gradients; ε from opacus' PRV
    accountant. `sigma` is the noise multiplier σ/C; epsilon null and no sigma: no noise, no claim. Add/remove
    relation, so the counted N (``n_records``) is neither used nor written into the ledger."""
    d = cfg.dpsgd
    q = dpsgd_sample_rate(cfg)
    mechanism = (
        f"DP-SGD (opacus): per-sample clipping at C={d.max_grad_norm:g}, Poisson sampling at q={q:.4g}, "
        f"{d.steps} steps; only the linear layers of the last {d.trainable_layers} blocks of {d.model} train"
    )
    composition = {"count": d.steps, "kind": "Poisson-subsampled Gaussian steps", "sample_rate": q}
    neighbouring = (
        "Neighbours differ by the addition or removal of one private record (one training example; every row of a "
        "duplicated id is set aside)."
    )
    scope = (
        "Covers the whole released synthetic set, end to end: the fine-tuned model is (ε, δ)-DP and every sample "
        "drawn from it is post-processing (labels are chosen without looking at private data)."
    )
    about_n = add_remove_n(cfg, rate=", like the sampling rate q = expected_batch_size / n,")
    if cfg.dpsgd.epsilon is None and sigma is None:
        return no_guarantee(
            "dpsgd",
            mechanism,
            None,
            "Everything: the model is fine-tuned without noise.",
            "no formal guarantee: dpsgd.epsilon is null (ε = ∞ reference run)",
            sensitivity=d.max_grad_norm,
            composition=composition,
            neighbouring=neighbouring,
            published=PUBLISHED_ADD_REMOVE,
            about_n=about_n,
            public_records=cfg.privacy.public_records,
        )
    delta, source, notes = add_remove_delta(cfg)
    if sigma is None:
        sigma = dpsgd_noise_multiplier(cfg.dpsgd.epsilon, delta, q, d.steps)
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
        None,
        source,
        {"covers": [scope], "not_covered": ["The public base model's own training data (assumed public)."]},
        about_n=about_n,
        scope_summary=scope,
        public_records=cfg.privacy.public_records,
        published_private_derived=PUBLISHED_ADD_REMOVE,
        warnings=notes,
        dataset_level=True,
    )


def rupta_ledger(cfg: Config, n_records: int | None, sigma: float | None = None) -> Ledger:
    """RUPTA adds no noise anywhere: the ledger says so, and what the method does instead."""
    return no_guarantee(
        "rupta",
        f"one-to-one LLM anonymisation with privacy and utility feedback, up to {cfg.rupta.rounds} rounds",
        n_records,
        "Everything: the generator reads each private record (scrubbed of the identifiers the redactor finds) and "
        "rewrites it, and no noise is added. Its privacy "
        "rests on the evaluators' feedback (heuristic) and on the empirical audit.",
        "no formal guarantee: RUPTA is not differentially private",
        published=[*PUBLISHED_COUNTED, "Each published row rewrites one private record."],
        about_n="N, the count of valid private records, is published (ledger and public manifest); with no DP claim "
        "there is no relation for it to break.",
    )


def no_guarantee(
    method: str,
    mechanism: str,
    n_records: int | None,
    not_covered: str,
    warning: str,
    sensitivity: float | None = None,
    composition: dict[str, Any] | None = None,
    neighbouring: str = "None: no noise is added, so no two inputs are made indistinguishable.",
    published: list[str] | None = None,
    selection: dict[str, Any] | None = None,
    about_n: str = COUNTED_N,
    public_records: int | None = None,
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
        about_n=about_n,
        scope_summary="Covers nothing: no noise is added, so no (ε, δ) is claimed.",
        public_records=public_records,
        published_private_derived=published or PUBLISHED_COUNTED,
        selection_utility=selection or {},
        warnings=[warning],
    )

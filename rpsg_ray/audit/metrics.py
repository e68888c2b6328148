"""ROC-AUC and TPR at a fixed low FPR, each with a bootstrap 95% interval (as LiRA reports them).

Scores are oriented so that higher means "more likely a member". Bootstrap resamples members and
non-members separately (the two sample sizes stay fixed) and all resamples are computed at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

FPRS = (0.01, 0.001)


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float

    def covers(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def to_dict(self) -> dict[str, float]:
        return {"value": round(self.value, 4), "ci95": [round(self.lo, 4), round(self.hi, 4)]}


@dataclass(frozen=True)
class AttackMetrics:
    auc: Interval
    tpr_at_fpr: dict[float, Interval]
    n_members: int
    n_non_members: int

    def resolvable(self, fpr: float) -> bool:
        """A TPR at FPR f means something only with at least 1/f non-members."""
        return self.n_non_members * fpr >= 1

    def to_dict(self) -> dict[str, object]:
        return {
            "auc": self.auc.to_dict(),
            "tpr_at_fpr": {
                f"{f:g}": {**iv.to_dict(), "resolvable": self.resolvable(f)} for f, iv in self.tpr_at_fpr.items()
            },
            "n_members": self.n_members,
            "n_non_members": self.n_non_members,
        }


def auc_rows(members: np.ndarray, non_members: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row pair (Mann-Whitney U with ties counted half): shapes (B, m) and (B, n) -> (B,)."""
    m, n = members.shape[1], non_members.shape[1]
    ranks = rankdata(np.concatenate([members, non_members], axis=1), axis=1)
    return (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)


def tpr_rows(members: np.ndarray, non_members: np.ndarray, fpr: float) -> np.ndarray:
    """Highest TPR whose FPR stays at or under `fpr`: the threshold sits at the (k+1)-th highest non-member
    score with k = floor(fpr·n), and only scores strictly above it count as "member"."""
    k = int(np.floor(fpr * non_members.shape[1]))
    threshold = -np.sort(-non_members, axis=1)[:, k]
    return (members > threshold[:, None]).mean(axis=1)


def evaluate_scores(
    member_scores: np.ndarray, non_member_scores: np.ndarray, bootstrap: int = 1000, seed: int = 0
) -> AttackMetrics:
    m, n = np.asarray(member_scores, float), np.asarray(non_member_scores, float)
    if len(m) == 0 or len(n) == 0:
        raise ValueError("need at least one member and one non-member score")
    rng = np.random.default_rng(seed)
    bm = m[rng.integers(0, len(m), (bootstrap, len(m)))]
    bn = n[rng.integers(0, len(n), (bootstrap, len(n)))]

    def interval(point: float, samples: np.ndarray) -> Interval:
        lo, hi = np.quantile(samples, [0.025, 0.975])
        return Interval(float(point), float(lo), float(hi))

    auc = interval(auc_rows(m[None], n[None])[0], auc_rows(bm, bn))
    tprs = {f: interval(tpr_rows(m[None], n[None], f)[0], tpr_rows(bm, bn, f)) for f in FPRS}
    return AttackMetrics(auc, tprs, len(m), len(n))


def roc_curve_points(member_scores: np.ndarray, non_member_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    y = np.r_[np.ones(len(member_scores)), np.zeros(len(non_member_scores))]
    fpr, tpr, _ = roc_curve(y, np.r_[member_scores, non_member_scores])
    return fpr, tpr

"""Family-wise p-values for a set of attacks on one candidate set (a max-T permutation test).

The headline of an audit is the strongest of several attacks, and the best of ten chance AUCs is well above
0.5 (with 256 members and 1,000 non-members its 95th percentile is about 0.55). Permuting the member labels
and taking the maximum AUC over all attacks at each permutation gives the distribution of that maximum under
"no attack sees membership"; an attack's family-wise p-value is the share of permutations whose maximum
reaches its AUC. The same holds for the TPR at a fixed low FPR.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from rpsg_ray.audit.metrics import tpr_rows

PERMUTATIONS = 999


def _aucs(ranks: np.ndarray, members: np.ndarray, n_non_members: int) -> np.ndarray:
    """AUC of every attack (rows of `ranks`) for every label assignment (rows of `members`, candidate indices)."""
    m = members.shape[1]
    sums = ranks[:, members].sum(axis=2)  # (attacks, assignments)
    return (sums - m * (m + 1) / 2) / (m * n_non_members)


def family_p_values(
    scores: dict[str, np.ndarray], is_member: np.ndarray, fpr: float, permutations: int = PERMUTATIONS, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per attack: the family-wise p-value of its AUC and of its TPR at `fpr`, over all attacks in `scores`."""
    names = list(scores)
    matrix = np.stack([np.asarray(scores[a], float) for a in names])
    ranks = rankdata(matrix, axis=1)
    n, m = len(is_member), int(is_member.sum())
    rng = np.random.default_rng(seed)
    shuffled = np.argsort(rng.random((permutations, n)), axis=1)  # each row a random permutation of candidates
    observed = np.flatnonzero(is_member)[None, :]
    null_auc = _aucs(ranks, shuffled[:, :m], n - m).max(axis=0)
    auc = _aucs(ranks, observed, n - m)[:, 0]
    null_tpr = np.stack([tpr_rows(row[shuffled[:, :m]], row[shuffled[:, m:]], fpr) for row in matrix]).max(axis=0)
    tpr = np.array([tpr_rows(row[is_member][None], row[~is_member][None], fpr)[0] for row in matrix])
    return {
        a: {
            "auc": float((1 + (null_auc >= auc[i] - 1e-12).sum()) / (1 + permutations)),
            "tpr": float((1 + (null_tpr >= tpr[i] - 1e-12).sum()) / (1 + permutations)),
        }
        for i, a in enumerate(names)
    }

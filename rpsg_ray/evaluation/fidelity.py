"""How close the synthetic embedding distribution is to the real one: FID, MAUVE, k-NN precision/recall.

All three take the same sentence embeddings (the caller embeds through `rpsg_ray.engines`) of two
samples of the same size N. FID is biased downward as N grows, so it is only comparable at equal N,
and N is reported beside it.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

MAUVE_SCALING = 5.0
KNN_K = 3


def fid(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the two embedding sets."""
    mu_r, mu_s = real.mean(axis=0), synthetic.mean(axis=0)
    cov_r, cov_s = np.cov(real, rowvar=False), np.cov(synthetic, rowvar=False)
    root, _ = linalg.sqrtm(cov_r @ cov_s, disp=False)
    if not np.isfinite(root).all():  # singular product (N below the dimension): offset both, as pytorch-fid does
        offset = np.eye(len(cov_r)) * 1e-6
        root = linalg.sqrtm((cov_r + offset) @ (cov_s + offset))
    diff = mu_r - mu_s
    return float(diff @ diff + np.trace(cov_r) + np.trace(cov_s) - 2 * np.trace(np.real(root)))


def mauve_buckets(n: int) -> int:
    """The package's 'auto' rule (n/10, at least 2), made explicit so it can be reported."""
    return max(2, round(n / 10))


def mauve_score(real: np.ndarray, synthetic: np.ndarray, seed: int) -> float:
    """MAUVE (mauve-text) on precomputed features: PCA + k-means quantisation, then the divergence frontier."""
    import mauve

    out = mauve.compute_mauve(
        p_features=real,
        q_features=synthetic,
        num_buckets=mauve_buckets(min(len(real), len(synthetic))),
        mauve_scaling_factor=MAUVE_SCALING,
        seed=seed,
        verbose=False,
    )
    return float(out.mauve)


def _kth_neighbour_radius(points: np.ndarray, k: int) -> np.ndarray:
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    return np.sort(dist, axis=1)[:, k]  # column 0 is the point itself


def knn_precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int = KNN_K) -> tuple[float, float]:
    """Kynkäänniemi et al. (2019): precision is the share of synthetic points inside some real point's
    k-NN ball (realism); recall is the share of real points inside some synthetic point's ball (coverage)."""
    real_radius, synth_radius = _kth_neighbour_radius(real, k), _kth_neighbour_radius(synthetic, k)
    cross = np.linalg.norm(synthetic[:, None, :] - real[None, :, :], axis=-1)  # (synthetic, real)
    precision = (cross <= real_radius[None, :]).any(axis=1).mean()
    recall = (cross <= synth_radius[:, None]).any(axis=0).mean()
    return float(precision), float(recall)

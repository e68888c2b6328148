"""Distance to closest record: are synthetic rows closer to the members than fresh real records are?

Distances are cosine distances between sentence embeddings. If the generator copied members, the synthetic
→ member distances sit below the non-member → member distances (non-members are the real test records
that never entered the run)."""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.05, 0.5)


def closest_distance(queries: np.ndarray, records: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - (queries @ records.T).max(axis=1), 0.0, 2.0)  # float error can dip below 0


def distance_to_closest_record(
    synthetic: np.ndarray, members: np.ndarray, non_members: np.ndarray
) -> dict[str, object]:
    """Quantiles of both distance distributions, and the share of synthetic rows closer to a member than the
    5th percentile of real test records (about 0.05 when the generator does not copy)."""
    synth = closest_distance(synthetic, members)
    real = closest_distance(non_members, members)
    cut = float(np.quantile(real, 0.05))
    return {
        "synthetic_to_members": {f"q{q:g}": round(float(np.quantile(synth, q)), 4) for q in QUANTILES},
        "real_test_to_members": {f"q{q:g}": round(float(np.quantile(real, q)), 4) for q in QUANTILES},
        "share_synthetic_closer_than_real_q0.05": round(float(np.mean(synth < cut)), 4),
        "expected_without_copying": 0.05,
        "n_synthetic": len(synth),
        "n_real_test": len(real),
        "distance": "cosine distance between sentence embeddings",
    }

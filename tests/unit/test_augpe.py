"""AUG-PE's parts: the vote goes to the nearest sample of the same label, and the released histogram's noise is
the ledger's σ (the whole run: tests/e2e/test_baselines.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rpsg_ray.config import load_config
from rpsg_ray.methods.augpe import Vote, noisy_votes
from rpsg_ray.privacy.ledger import augpe_ledger

ROOT = Path(__file__).resolve().parents[2]


def test_vote_goes_to_the_nearest_sample_of_the_same_label() -> None:
    """Two positive and one negative private record; for two of them the nearest sample is of the wrong label."""
    population = {
        "embeddings": np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32),
        "labels": np.array(["positive", "positive", "negative"]),
    }
    vote = Vote(lambda: population)
    batch = {
        "embedding": np.array([[0.9, 0.1], [0.6, 0.8], [1.0, 0.0]], dtype=np.float32),
        "label": np.array(["positive", "positive", "negative"]),
    }
    # record 2 is nearest to sample 2 (negative) but votes for sample 1 (positive, its own label);
    # record 3 is nearest to sample 0 (positive) but may only vote for sample 2 (the only negative one)
    assert vote(batch)["hist"].tolist() == [[1, 1, 1]]


def test_released_vote_noise_is_the_ledgers_sigma() -> None:
    """The released histogram's noise has the ledger's σ (±20%; 20,000 counts), is keyed, and counts under the
    threshold after noise are released as 0."""
    cfg = load_config(None, ["augpe.epsilon=4", "privacy.public_records=2000", "augpe.iterations=10"])
    sigma = augpe_ledger(cfg, 2000).sigma
    counts = np.full(20_000, 50.0)
    released = noisy_votes(counts, sigma, 3, threshold=-np.inf)
    assert float(np.std(released - counts)) == pytest.approx(sigma, rel=0.2)
    assert np.array_equal(released, noisy_votes(counts, sigma, 3, threshold=-np.inf))
    assert not np.array_equal(released, noisy_votes(counts, sigma, 4, threshold=-np.inf))
    cut = noisy_votes(np.zeros(1000), sigma, 3, threshold=sigma)
    assert set(np.unique(cut[cut < sigma])) == {0.0}

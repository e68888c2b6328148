"""Accountant against closed forms and published numbers; the selection mechanism's privacy loss, empirically."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm

from rpsg_ray.privacy.accountant import (
    PrivacyParameterError,
    calibrate_sigma,
    default_delta,
    epsilon_for_sigma,
    gdp_delta,
    pld_epsilon,
)
from rpsg_ray.privacy.ledger import augpe_ledger, rpsg_ledger
from rpsg_ray.privacy.mechanisms import noisy_argmax, score_range, selection_sensitivity

WEIGHTS = {"w_cos": 0.75, "w_agree": 0.25, "w_disagree": 0.15, "cos_min": 0.0, "cos_max": 1.0}


def test_analytic_gaussian_known_points() -> None:
    # ε = 0: δ = Φ(μ/2) − Φ(−μ/2) (total variation of two unit Gaussians μ apart).
    assert gdp_delta(1.0, 0.0) == pytest.approx(norm.cdf(0.5) - norm.cdf(-0.5), abs=1e-12)
    # Balle & Wang's formula evaluated by hand at μ = 1, ε = 1.
    expected = norm.cdf(0.5 - 1.0) - math.e * norm.cdf(-0.5 - 1.0)
    assert gdp_delta(1.0, 1.0) == pytest.approx(expected, rel=1e-9)
    assert gdp_delta(0.5, 3.0) < gdp_delta(0.5, 1.0) < gdp_delta(0.5, 0.1)


@pytest.mark.parametrize(("epsilon", "published"), [(1.0, 13.26), (2.0, 7.01), (4.0, 3.75)])
def test_augpe_pubmed_sigma(epsilon: float, published: float) -> None:
    """AUG-PE's published σ (T = 10, δ = 1/(N ln N), N = 75,316), rounded up to 2 decimals as published."""
    sigma = calibrate_sigma(epsilon, default_delta(75_316), sensitivity=1.0, count=10)
    assert math.ceil(sigma * 100) / 100 == pytest.approx(published, abs=1e-9)


@pytest.mark.parametrize(("epsilon", "published"), [(1.0, 15.34), (2.0, 8.03), (4.0, 4.24)])
def test_augpe_yelp_sigma(epsilon: float, published: float) -> None:
    """Yelp (N = 1,939,290): the exact μ-GDP values are 15.40 / 8.04 / 4.25; the published table is within 0.07.

    The published Yelp values imply δ ≈ 3.7e-8–4.0e-8 rather than 1/(N ln N) = 3.56e-8, so they cannot be
    matched to 2 decimals with the stated N; we keep the exact computation and bound the gap.
    """
    sigma = calibrate_sigma(epsilon, default_delta(1_939_290), sensitivity=1.0, count=10)
    assert sigma == pytest.approx(published, abs=0.07)
    assert sigma >= published  # ours is the conservative side


def test_monotonicity() -> None:
    d = 1e-6
    sigmas = [calibrate_sigma(e, d, 1.0, 2) for e in (0.5, 1, 2, 4, 8)]
    assert all(a > b for a, b in itertools.pairwise(sigmas))
    by_count = [calibrate_sigma(2.0, d, 1.0, m) for m in (1, 2, 4, 8)]
    assert all(a < b for a, b in itertools.pairwise(by_count))


@pytest.mark.parametrize(("sigma", "count"), [(13.26, 10), (3.2, 2), (1.0, 1)])
def test_pld_agrees_with_analytic(sigma: float, count: int) -> None:
    delta = 1e-6
    assert pld_epsilon(sigma, delta, 2.3, count) == pytest.approx(epsilon_for_sigma(sigma, delta, 2.3, count), rel=2e-3)


@pytest.mark.parametrize("bad", [{"epsilon": 0.0}, {"epsilon": -1.0}, {"delta": 1.0}, {"delta": 0.0}])
def test_impossible_requests(bad: dict[str, float]) -> None:
    args = {"epsilon": 1.0, "delta": 1e-6} | bad
    with pytest.raises(PrivacyParameterError):
        calibrate_sigma(args["epsilon"], args["delta"], 1.0, 1)


def test_selection_sensitivity_from_fixed_range() -> None:
    lo, hi = score_range(**WEIGHTS)
    assert (lo, hi) == pytest.approx((-0.15, 1.0))
    assert selection_sensitivity(lo, hi, 4) == pytest.approx(1.15 * 2)


def test_rpsg_ledger_scope_and_default_delta() -> None:
    ledger = rpsg_ledger(4.0, None, 2000, 4, 2, WEIGHTS)
    assert ledger.delta == pytest.approx(1 / (2000 * math.log(2000)))
    assert ledger.sigma == pytest.approx(calibrate_sigma(4.0, ledger.delta, 2.3, 2))
    assert any("NO formal" in s for s in ledger.scope["not_covered"])
    none = rpsg_ledger(None, None, 2000, 4, 2, WEIGHTS)
    assert none.sigma == 0 and none.epsilon is None and "no formal guarantee" in none.warnings[0]


def test_large_delta_warns() -> None:
    with pytest.warns(UserWarning, match="1/N"):
        ledger = rpsg_ledger(1.0, 0.01, 1000, 4, 1, WEIGHTS)
    assert ledger.warnings


def test_augpe_ledger_matches_calculator() -> None:
    ledger = augpe_ledger(2.0, None, 75_316, 10)
    assert ledger.epsilon == pytest.approx(2.0, rel=1e-6)
    assert ledger.sigma == pytest.approx(calibrate_sigma(2.0, default_delta(75_316), 1.0, 10))


def test_noisy_argmax_zero_noise_is_argmax() -> None:
    scores = np.array([0.1, 0.7, 0.3, 0.69])
    assert all(noisy_argmax(scores, 0.0, seed) == 1 for seed in range(50))


def test_noisy_argmax_huge_noise_is_near_uniform() -> None:
    scores = np.array([1.0, -0.15, -0.15, -0.15])
    picks = np.bincount([noisy_argmax(scores, 1e4, seed) for seed in range(8000)], minlength=4)
    # chi-square against uniform, 3 dof: 99.9% quantile is 16.27
    expected = 8000 / 4
    assert ((picks - expected) ** 2 / expected).sum() < 16.27


def test_noisy_argmax_is_reproducible_per_seed() -> None:
    scores = np.array([0.2, 0.4, 0.1, 0.3])
    assert [noisy_argmax(scores, 1.0, s) for s in range(20)] == [noisy_argmax(scores, 1.0, s) for s in range(20)]


def test_empirical_privacy_loss_within_bound() -> None:
    """Neighbouring score vectors (extremes of the fixed range): observed output log-ratios stay within ε(δ)."""
    k, epsilon, delta = 4, 2.0, 1e-3
    lo, hi = score_range(**WEIGHTS)
    sigma = calibrate_sigma(epsilon, delta, selection_sensitivity(lo, hi, k), 1)
    a = np.array([hi, lo, lo, lo])
    b = np.array([lo, hi, hi, hi])
    draws = 40_000
    rng = np.random.default_rng(7)
    pa_ = np.bincount(np.argmax(a + rng.normal(0, sigma, (draws, k)), axis=1), minlength=k) / draws
    pb_ = np.bincount(np.argmax(b + rng.normal(0, sigma, (draws, k)), axis=1), minlength=k) / draws
    ratios = np.abs(np.log(pa_ / pb_))
    assert ratios.max() < epsilon, ratios

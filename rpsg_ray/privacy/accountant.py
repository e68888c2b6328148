"""Gaussian-mechanism calibration and composition.

Every mechanism accounted here is a composition of Gaussian mechanisms, so its privacy loss is
exactly μ-GDP with μ = sqrt(Σ_i (Δ_i/σ_i)²) (Dong, Roth & Su 2019). The (ε, δ) curve of μ-GDP is the
analytic Gaussian of Balle & Wang (2018):

    δ(ε) = Φ(μ/2 − ε/μ) − e^ε · Φ(−μ/2 − ε/μ),

tight for every ε > 0 (the textbook σ = Δ·sqrt(2 ln(1.25/δ))/ε is only valid for ε < 1 and loose).
σ for a target (ε, δ) solves this equation for μ. Google's ``dp-accounting`` PLD accountant computes
the same quantity numerically; ``pld_epsilon`` cross-checks the closed form (the tests compare them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import norm

ACCOUNTANT = "analytic Gaussian / Gaussian DP (Balle & Wang 2018; Dong, Roth & Su 2019)"


class PrivacyParameterError(ValueError):
    """An impossible privacy request (ε ≤ 0, δ outside (0, 1), ...)."""


def _check(epsilon: float | None = None, delta: float | None = None, sigma: float | None = None) -> None:
    if epsilon is not None and not (epsilon > 0 and math.isfinite(epsilon)):
        raise PrivacyParameterError(f"epsilon must be a finite number > 0, got {epsilon}")
    if delta is not None and not 0 < delta < 1:
        raise PrivacyParameterError(f"delta must be in (0, 1), got {delta}")
    if sigma is not None and not (sigma > 0 and math.isfinite(sigma)):
        raise PrivacyParameterError(f"sigma must be a finite number > 0, got {sigma}")


def gdp_delta(mu: float, epsilon: float) -> float:
    """δ(ε) of μ-GDP (equivalently of a Gaussian mechanism with Δ/σ = μ)."""
    if mu <= 0:
        return 0.0
    # e^ε·Φ(b) computed in log space so large ε does not overflow.
    a = norm.cdf(mu / 2 - epsilon / mu)
    b = math.exp(epsilon + norm.logcdf(-mu / 2 - epsilon / mu))
    return max(0.0, float(a - b))


def gdp_epsilon(mu: float, delta: float) -> float:
    """Smallest ε with δ(ε) ≤ δ for μ-GDP."""
    _check(delta=delta)
    if gdp_delta(mu, 0.0) <= delta:
        return 0.0
    hi = 1.0
    while gdp_delta(mu, hi) > delta:
        hi *= 2
    return float(brentq(lambda e: gdp_delta(mu, e) - delta, 0.0, hi, xtol=1e-12))


def gdp_mu(epsilon: float, delta: float) -> float:
    """Largest μ whose μ-GDP guarantee implies (ε, δ)-DP."""
    _check(epsilon=epsilon, delta=delta)
    hi = 1.0
    while gdp_delta(hi, epsilon) < delta:
        hi *= 2
    return float(brentq(lambda m: gdp_delta(m, epsilon) - delta, 1e-12, hi, xtol=1e-14))


@dataclass(frozen=True)
class GaussianComposition:
    """``count`` Gaussian mechanisms, each with L2 sensitivity ``sensitivity`` and noise ``sigma``."""

    sensitivity: float
    sigma: float
    count: int

    @property
    def mu(self) -> float:
        return math.sqrt(self.count) * self.sensitivity / self.sigma

    def epsilon(self, delta: float) -> float:
        return gdp_epsilon(self.mu, delta)


def calibrate_sigma(epsilon: float, delta: float, sensitivity: float, count: int) -> float:
    """σ such that ``count`` Gaussian mechanisms of L2 sensitivity ``sensitivity`` are (ε, δ)-DP together."""
    _check(epsilon=epsilon, delta=delta)
    if sensitivity <= 0 or count < 1:
        raise PrivacyParameterError("sensitivity must be > 0 and the composition count >= 1")
    return math.sqrt(count) * sensitivity / gdp_mu(epsilon, delta)


def epsilon_for_sigma(sigma: float, delta: float, sensitivity: float, count: int) -> float:
    _check(sigma=sigma, delta=delta)
    return GaussianComposition(sensitivity, sigma, count).epsilon(delta)


def pld_epsilon(sigma: float, delta: float, sensitivity: float, count: int) -> float:
    """The same ε from dp-accounting's PLD accountant (numerical cross-check)."""
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    accountant = pld_privacy_accountant.PLDAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(sigma / sensitivity), count)
    return float(accountant.get_epsilon(delta))


def default_delta(n_records: int) -> float:
    """δ = 1/(N·ln N) for the counted private dataset (well below 1/N); AUG-PE's convention."""
    n = max(n_records, 3)
    return 1.0 / (n * math.log(n))


def library_version() -> str:
    from importlib.metadata import version

    return f"dp-accounting {version('dp-accounting')} (cross-check), scipy {version('scipy')}"


DPSGD_ACCOUNTANT = "opacus PRV accountant (Gopi et al. 2021), Poisson-subsampled Gaussian"


def dpsgd_noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """σ/C for `steps` Poisson-subsampled Gaussian steps at rate q to be (ε, δ)-DP (opacus' calibration)."""
    from opacus.accountants.utils import get_noise_multiplier

    _check(epsilon=epsilon, delta=delta)
    return float(
        get_noise_multiplier(
            target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, steps=steps, accountant="prv"
        )
    )


def dpsgd_epsilon(noise_multiplier: float, delta: float, sample_rate: float, steps: int) -> float:
    """ε of DP-SGD by opacus' PRV accountant, for the steps actually taken."""
    from opacus.accountants import PRVAccountant

    accountant = PRVAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta))


def dpsgd_pld_epsilon(noise_multiplier: float, delta: float, sample_rate: float, steps: int) -> float:
    """The same ε from dp-accounting's PLD accountant (an independent library, for the tests)."""
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    event = dp_accounting.PoissonSampledDpEvent(sample_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant = pld_privacy_accountant.PLDAccountant()
    accountant.compose(event, steps)
    return float(accountant.get_epsilon(delta))

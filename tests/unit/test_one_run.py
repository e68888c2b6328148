"""The one-run empirical ε bound: exact where it has a closed form, never above the true ε of a mechanism
whose ε is known (randomised response), zero at chance, large when the run copies its canaries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from rpsg_ray.audit.one_run import audit_one_run, epsilon_lower_bound, p_value
from rpsg_ray.audit.report import one_run_summary
from rpsg_ray.audit.results import Audit


def test_p_value_is_the_binomial_tail_without_delta() -> None:
    q = 1 / (1 + math.exp(-1.0))
    assert p_value(500, 100, 70, 1.0, 0.0) == pytest.approx(binom.sf(69, 100, q))
    assert p_value(500, 100, 70, 1.0, 1e-5) > p_value(500, 100, 70, 1.0, 0.0)  # δ only weakens the test


def test_all_guesses_right_has_a_closed_form() -> None:
    # r of r right: q(ε)^r = 0.05, so ε = logit(0.05^(1/r))
    q = 0.05 ** (1 / 100)
    assert epsilon_lower_bound(1000, 100, 100, 0.0) == pytest.approx(math.log(q / (1 - q)), rel=1e-4)
    assert epsilon_lower_bound(1000, 100, 50, 0.0) == 0.0  # half right: chance


def randomised_response(epsilon: float, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An ε-DP release of each canary's coin (the bit flipped with probability 1/(1+e^ε)), as attack scores."""
    coins = rng.random(m) < 0.5
    flipped = rng.random(m) < 1 / (1 + math.exp(epsilon))
    return (coins ^ flipped) + rng.normal(0, 1e-3, m), coins


def test_the_bound_holds_for_a_mechanism_of_known_epsilon() -> None:
    rng = np.random.default_rng(7)
    bounds = [audit_one_run(*randomised_response(1.0, 1000, rng), delta=0.0).epsilon for _ in range(60)]
    assert np.mean(np.array(bounds) > 1.0) <= 0.05  # above the true ε at most 5% of the time
    assert np.median(bounds) > 0.5  # and the instrument has power: it sees most of that ε


def test_chance_gives_zero_and_a_copying_run_gives_a_large_bound() -> None:
    rng = np.random.default_rng(3)
    chance = [audit_one_run(rng.normal(size=400), rng.random(400) < 0.5, delta=1e-5).epsilon for _ in range(40)]
    assert np.mean(np.array(chance) > 0) <= 0.1
    coins = rng.random(400) < 0.5
    copied = audit_one_run(coins + rng.normal(0, 0.01, 400), coins, delta=1e-5)
    assert copied.epsilon > 2.0 and copied.correct == copied.guesses


def test_the_summary_says_when_no_guess_beat_chance() -> None:
    """Scores that order nothing give a zero bound from no guesses; the report says so instead of "0 of 0"."""
    audit = Audit(Path("run"), "rpsg", "lineage", [], np.array([], bool), {})
    audit.claim = {"epsilon": None}
    audit.one_run = audit_one_run(np.zeros(64), np.arange(64) % 2 == 0, 1e-5)
    assert "no count of guesses did better than chance" in one_run_summary(audit)
    audit.one_run = audit_one_run(np.arange(64.0), np.arange(64) >= 32, 1e-5)
    assert "guesses right" in one_run_summary(audit)

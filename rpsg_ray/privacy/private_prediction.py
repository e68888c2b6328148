"""Private prediction: one token at a time from the clipped, averaged next-token logits of a public LLM prompted
with several private records, sampled by the exponential mechanism.

The mechanism (after Tang et al., "Privacy-preserving in-context learning with differentially private few-shot
generation", ICLR 2024; Amin et al., "Private prediction for large-scale synthetic text generation", EMNLP
Findings 2024; and InvisibleInk, NeurIPS 2025, which clips only the difference to the public logits and samples
within the public top-k). For one group of private records and one output, at each step t:

    z̄ = z_pub + (1/s) · Σ_{i in group} clip(z_i − z_pub, −C, C)
    token ~ softmax(z̄ / τ) restricted to the k largest entries of z_pub

z_pub is the model's logit row for the prompt without any record, z_i for the same prompt with record i, all
with the tokens released so far; s is the group size fixed from public quantities (the divisor does not depend
on how many records the group actually holds). Adding or removing one record moves every entry of z̄ by a value
in [−C/s, C/s]: each token is the exponential mechanism with a utility whose change lies in a range of width
2C/s, which is η-bounded-range with η = 2C/(sτ) (Durfee and Rogers 2019), hence η²/8-zCDP (Cesar and Rogers
2021). The top-k set comes from z_pub alone, so restricting to it costs nothing.

Composition: a record sits in exactly one group, so groups compose in parallel; within its group, every token
of every output is one such mechanism, chosen adaptively: ρ = outputs_per_group · tokens · η²/8. Stopping early
is itself a released token, so `tokens` is the ceiling, not the count decoded. zCDP converts to (ε, δ) by the
conversion of Canonne, Kamath and Steinke (2020, Proposition 12); dp-accounting's RDP accountant (a ZCDpEvent
composed the same number of times) cross-checks it in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.optimize import brentq, minimize_scalar

ACCOUNTANT = (
    "zCDP of bounded-range exponential mechanisms (Cesar & Rogers 2021), converted to (ε, δ) by Canonne, "
    "Kamath & Steinke (2020)"
)


def token_eta(clip: float, group_size: int, temperature: float) -> float:
    """η of one token: the width of the range a record can move the tempered logits by, 2C/(sτ). It is also the
    most that one record changes any token's log-probability (pure η-DP per token)."""
    return 2.0 * clip / (group_size * temperature)


def zcdp_epsilon(rho: float, delta: float) -> float:
    """(ε, δ) from ρ-zCDP: ε = min over α > 1 of αρ + (ln(1/δ) + (α−1)·ln(1 − 1/α) − ln α)/(α − 1)
    (Canonne, Kamath & Steinke 2020, Proposition 12), tighter than ρ + 2·sqrt(ρ·ln(1/δ))."""
    if rho <= 0:
        return 0.0

    def eps(alpha: float) -> float:
        return alpha * rho + (math.log(1 / delta) + (alpha - 1) * math.log1p(-1 / alpha) - math.log(alpha)) / (
            alpha - 1
        )

    guess = 1 + math.sqrt(math.log(1 / delta) / rho)  # the optimum of the loose bound, to bracket the search
    best = minimize_scalar(eps, bounds=(1 + 1e-9, 10 * guess + 10), method="bounded", options={"xatol": 1e-9})
    return max(0.0, float(min(best.fun, rho + 2 * math.sqrt(rho * math.log(1 / delta)))))


def library_version() -> str:
    from importlib.metadata import version

    return f"scipy {version('scipy')}; dp-accounting {version('dp-accounting')} RDP (cross-check)"


def rdp_epsilon(rho: float, delta: float) -> float:
    """The same ε from dp-accounting's RDP accountant (an independent library, for the tests)."""
    import dp_accounting
    from dp_accounting.rdp import rdp_privacy_accountant

    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_accounting.ZCDpEvent(rho))
    return float(accountant.get_epsilon(delta))


@dataclass(frozen=True)
class PredictionBudget:
    """What a private-prediction run spends: every output of a group is `tokens` mechanisms at η = 2C/(sτ)."""

    clip: float
    group_size: int
    temperature: float
    tokens: int
    outputs_per_group: int

    @property
    def eta(self) -> float:
        return token_eta(self.clip, self.group_size, self.temperature)

    @property
    def mechanisms(self) -> int:
        """Token mechanisms one record takes part in (its group's outputs times the token ceiling)."""
        return self.tokens * self.outputs_per_group

    @property
    def rho(self) -> float:
        return self.mechanisms * self.eta**2 / 8

    def epsilon(self, delta: float) -> float:
        return zcdp_epsilon(self.rho, delta)

    def describe(self, delta: float) -> dict[str, Any]:
        return {
            "count": self.mechanisms,
            "kind": "adaptive over the tokens of every output of the record's own group; groups are disjoint, "
            "so they compose in parallel",
            "clip": self.clip,
            "group_size": self.group_size,
            "temperature": self.temperature,
            "tokens_per_output": self.tokens,
            "outputs_per_group": self.outputs_per_group,
            "eta_per_token": self.eta,
            "rho": self.rho,
            "epsilon_rdp_crosscheck": rdp_epsilon(self.rho, delta),
        }


def calibrate_clip(
    epsilon: float, delta: float, group_size: int, temperature: float, tokens: int, outputs: int
) -> float:
    """The largest clip C whose budget is (ε, δ)-DP: ε grows with C, so a root search on C."""

    def over(clip: float) -> float:
        return PredictionBudget(clip, group_size, temperature, tokens, outputs).epsilon(delta) - epsilon

    hi = 1.0
    while over(hi) < 0:
        hi *= 2
    return float(brentq(over, 1e-9, hi, xtol=1e-10))

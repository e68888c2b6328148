"""Attacks through a small causal LM trained on the synthetic set (the `rpsg evaluate` recipe, same budget for
every set): loss, zlib-normalised loss, Min-K% probability, and the loss ratio to a reference LM trained the
same way on public records of the domain that never saw the synthetic set (offline LiRA-style calibration)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from rpsg_ray.engines.causal_lm import LmBudget, SmallCausalLm

MIN_K = 0.2
BATCH = 64


@dataclass(frozen=True)
class TokenLosses:
    """Per-text next-token NLLs (nats) under one model, each text cut to the model's window."""

    per_text: list[np.ndarray]

    @property
    def mean(self) -> np.ndarray:
        return np.array([x.mean() if len(x) else np.nan for x in self.per_text])

    @property
    def total(self) -> np.ndarray:
        return np.array([x.sum() for x in self.per_text])

    def worst_share(self, k: float) -> np.ndarray:
        """Mean NLL of the k share of tokens the model found least likely (Min-K% probability, negated)."""
        out = []
        for x in self.per_text:
            n = max(1, int(np.ceil(k * len(x))))
            out.append(np.sort(x)[-n:].mean() if len(x) else np.nan)
        return np.array(out)


def train(texts: list[str], threads: int | None, budget: LmBudget | None = None) -> SmallCausalLm:
    lm = SmallCausalLm(budget or LmBudget(), threads=threads)
    lm.train(texts)
    return lm


def token_losses(lm: SmallCausalLm, texts: list[str]) -> TokenLosses:
    """Every predicted token's NLL, as the trained model's `score` reads a text."""
    return TokenLosses(lm.token_nll(texts, BATCH))


def zlib_bytes(texts: list[str]) -> np.ndarray:
    return np.array([len(zlib.compress(t.encode())) for t in texts], float)


def lm_scores(target: TokenLosses, reference: TokenLosses | None, texts: list[str]) -> dict[str, np.ndarray]:
    """Membership scores (higher = more likely a member) from the synthetic-trained LM's token losses."""
    scores = {
        "lm_loss": -target.mean,
        "lm_zlib": -target.mean / zlib_bytes(texts),  # mean loss over zlib bytes, as in Carlini et al. 2021
        "lm_min_k": -target.worst_share(MIN_K),
    }
    if reference is not None:
        scores["lm_reference_ratio"] = reference.mean - target.mean
    return {k: np.nan_to_num(v, nan=-np.inf) for k, v in scores.items()}

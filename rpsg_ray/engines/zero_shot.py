"""Zero-shot labels for any class set: each text gets the class whose public description its embedding is
closest to. It reads no private data (the descriptions come from the config), so RPSG's agreement term and
rewrite guard may use it where the labels are not sentiment; its accuracy is measured on a real labelled corpus
(benchmarks/label_scorer.py) before it is trusted."""

from __future__ import annotations

import numpy as np

from rpsg_ray.engines.base import EmbedderEngine, Prediction

TEMPERATURE = 0.05
"""Softmax temperature over cosines: confidence is the top class's share, so a clear winner scores near 1."""


class ZeroShotClassifier:
    def __init__(self, embedder: EmbedderEngine, descriptions: dict[str, str]) -> None:
        self.embedder, self.classes = embedder, list(descriptions)
        self.anchors = embedder.embed(list(descriptions.values()))

    def classify(self, texts: list[str]) -> list[Prediction]:
        if not texts:
            return []
        sims = self.embedder.embed(texts) @ self.anchors.T
        weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / TEMPERATURE)
        shares = weights / weights.sum(axis=1, keepdims=True)
        best = shares.argmax(axis=1)
        return [Prediction(self.classes[b], float(shares[i, b])) for i, b in enumerate(best)]

"""Is the synthetic set useful for training? A sentiment classifier and a next-token LM, tested on real text.

The classifier is logistic regression on frozen sentence embeddings (cheap and deterministic); its
floor is always predicting the real test split's most common label. The LM is trained by
`rpsg_ray.engines.causal_lm` with one fixed budget for every set; its floor is the same model untrained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from rpsg_ray.engines.causal_lm import LmBudget, NextTokenScore, SmallCausalLm

CLASSIFIER_SETTINGS = {
    "model": "scikit-learn LogisticRegression on frozen sentence embeddings",
    "C": 1.0,
    "max_iter": 1000,
}


def classifier_scores(
    train: np.ndarray, train_labels: list[str], test: np.ndarray, test_labels: list[str]
) -> tuple[float, float]:
    """Accuracy and macro-F1 on the real test rows; NaN when the training rows hold a single label."""
    if len(set(train_labels)) < 2:
        return float("nan"), float("nan")
    model = LogisticRegression(C=CLASSIFIER_SETTINGS["C"], max_iter=CLASSIFIER_SETTINGS["max_iter"])
    predicted = model.fit(train, train_labels).predict(test)
    return float(accuracy_score(test_labels, predicted)), float(f1_score(test_labels, predicted, average="macro"))


def majority_floor(test_labels: list[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 of always answering the test split's most common label."""
    top = Counter(test_labels).most_common(1)[0][0]
    predicted = [top] * len(test_labels)
    return float(accuracy_score(test_labels, predicted)), float(f1_score(test_labels, predicted, average="macro"))


def next_token_scores(
    train_texts: list[str] | None,
    test_texts: list[str],
    budget: LmBudget,
    threads: int | None,
    progress: Callable[[int, float], None] | None = None,
) -> NextTokenScore:
    """Train a fresh LM on `train_texts` with the fixed budget (None: leave it untrained, the floor) and
    score it on the real test texts."""
    lm = SmallCausalLm(budget, threads=threads)
    if train_texts is not None:
        lm.train(train_texts, progress=progress)
    return lm.score(test_texts)

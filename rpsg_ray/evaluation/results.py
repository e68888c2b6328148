"""What one evaluation holds: its settings and every measured set (the runner fills it, the report reads it;
neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rpsg_ray.engines.causal_lm import LmBudget

if TYPE_CHECKING:
    from rpsg_ray.config.data import Audience
from rpsg_ray.engines.registry import MINILM
from rpsg_ray.evaluation.quality import DefectCounts
from rpsg_ray.evaluation.stats import Estimate


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything that shapes the numbers; written into metrics.json."""

    repeats: int = 5
    seed: int = 0
    max_test_rows: int = 2000  # real test rows the classifier and the LM are tested on (a fixed sample)
    max_rows: int = 1000  # cap on the matched sample size N
    self_bleu_rows: int = 200  # Self-BLEU is quadratic; it uses the first rows of each draw
    lm_test_rows: int = 500
    embedder: str = MINILM
    threads: int | None = None
    item: str = "movie review"
    sentences: bool = True  # records end with a full stop (False for tweets: see the detector's `truncated`)
    audience: Audience = "no_one"  # whom records are written to: what counts as the model's voice (see the detector)
    lm: LmBudget = field(default_factory=LmBudget)


@dataclass
class MethodResult:
    """One evaluated set: a run directory or the real-data ceiling."""

    name: str
    kind: str  # "synthetic" | "real"
    rows: int
    run_dir: str | None
    method: str
    metrics: dict[str, Estimate]
    defects: DefectCounts
    texts: list[str]  # every row the metrics saw (the union of the draws), for plots and examples
    embeddings: np.ndarray
    run_info: dict[str, object] = field(default_factory=dict)


@dataclass
class Evaluation:
    settings: EvaluationSettings
    n: int
    real_test: dict[str, object]
    real_train: dict[str, object]
    methods: list[MethodResult]
    floors: dict[str, Estimate]
    test_texts: list[str]
    test_embeddings: np.ndarray
    wall_seconds: float = 0.0
    summary: str = ""

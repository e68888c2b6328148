"""nll_filter: per-text mean token NLL from a causal LM; keep rows inside absolute bounds [lo, hi].

Too likely (NLL < lo) looks memorised or degenerate (repetition loops); too unlikely (NLL > hi)
looks like garbage. The bounds are absolute numbers fixed before the stream starts (from the config
or calibrated once on a sample) and written to the manifest.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pyarrow as pa

from rpsg_ray.config import NllFilterConfig
from rpsg_ray.engines.registry import load_scorer
from rpsg_ray.rows import Columns, Stage, StageResult, texts


def nll_verdict(nll: float, lo: float | None, hi: float | None) -> str | None:
    if math.isnan(nll):
        return "NLL undefined (text has fewer than two tokens)"
    if lo is not None and nll < lo:
        return "NLL below lo (memorised- or degenerate-looking)"
    if hi is not None and nll > hi:
        return "NLL above hi (garbage-looking)"
    return None


class NllFilter(Stage):
    name = "nll_filter"
    outputs = {"nll": pa.float64()}
    diagnostics = {"nll": "nll"}

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        return replace(super().columns(), inputs=(kwargs.get("column", "synthetic_text"),))

    def __init__(self, cfg: NllFilterConfig, bounds: dict[str, Any] | None, column: str = "synthetic_text") -> None:
        """`bounds` holds the absolute {"lo", "hi"}; None scores without filtering (calibration)."""
        self.scorer = load_scorer(cfg.engine.spec())
        limits = bounds or {}
        self.lo, self.hi, self.column = limits.get("lo"), limits.get("hi"), column

    def process(self, rows: pa.Table) -> StageResult:
        scores = self.scorer.nll(texts(rows, self.column))
        return StageResult({"nll": scores}, [nll_verdict(s, self.lo, self.hi) for s in scores])

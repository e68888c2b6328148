"""A repeated measurement as its mean and a 95% confidence interval of that mean (Student's t)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """One metric for one method: the per-repeat values, their mean and 95% interval, and the settings."""

    values: tuple[float, ...]
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        finite = [v for v in self.values if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan

    @property
    def ci95(self) -> tuple[float, float] | None:
        """None for a single value (nothing was repeated), else mean ± t(0.975, n−1)·sd/√n."""
        finite = [v for v in self.values if math.isfinite(v)]
        if len(finite) < 2:
            return None
        sd = float(np.std(finite, ddof=1))
        half = stats.t.ppf(0.975, len(finite) - 1) * sd / math.sqrt(len(finite))
        return (self.mean - half, self.mean + half)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"mean": _json_number(self.mean)}
        if self.ci95 is not None:
            out["ci95"] = [_json_number(x) for x in self.ci95]
        if len(self.values) > 1:
            out["values"] = [_json_number(v) for v in self.values]
        out["settings"] = self.settings
        return out


def _json_number(x: float) -> float | None:
    """JSON has no NaN: a metric that could not be computed is null (its settings say why)."""
    return round(x, 6) if math.isfinite(x) else None

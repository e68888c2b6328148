"""Is each row a usable record? The detector's defect rates, sentiment consistency, PII counts.

The defect rules live in `rpsg_ray.quality.detector` (documented and tested there); this module only
counts what it flags, over all rows of a set, in total and per defect kind. Rows are inspected as
published (no length target: the evaluator does not know the prompt that made them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rpsg_ray.quality.detector import REASONS, Verdict, inspect

if TYPE_CHECKING:
    from rpsg_ray.config.data import Audience

DETECTOR_SETTINGS = {"detector": "rpsg_ray.quality.detector.inspect", "target_words": None}


@dataclass(frozen=True)
class DefectCounts:
    """How many rows the detector flagged, overall and per kind, and the verdict of every row."""

    rows: int
    flagged: int
    per_kind: dict[str, int]
    verdicts: list[Verdict]

    def rates(self) -> dict[str, float]:
        """Share of rows flagged (`any`) and per defect kind; a row can carry several kinds."""
        return {"any": self.flagged / self.rows, **{k: v / self.rows for k, v in self.per_kind.items()}}


def count_defects(texts: list[str], item: str, sentences: bool = True, audience: Audience = "no_one") -> DefectCounts:
    verdicts = [inspect(t, item=item, sentences=sentences, audience=audience) for t in texts]
    per_kind = {kind: sum(kind in v.reasons for v in verdicts) for kind in REASONS}
    return DefectCounts(len(texts), sum(not v.ok for v in verdicts), per_kind, verdicts)


def sentiment_consistency(labels: dict[str, str], matched: dict[str, bool]) -> dict[str, float]:
    """Per label, the share of rows whose text kept the requested sentiment (private diagnostics, joined
    by synthetic_id); `all` over every row with a diagnostic."""
    out: dict[str, float] = {}
    groups: dict[str, list[bool]] = {}
    for sid, m in matched.items():
        if sid in labels:
            groups.setdefault(labels[sid], []).append(m)
            groups.setdefault("all", []).append(m)
    for label, values in sorted(groups.items()):
        out[label] = sum(values) / len(values)
    return out

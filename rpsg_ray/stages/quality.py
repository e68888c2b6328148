"""quality: the quality detector (rpsg_ray/quality/detector.py) on the redacted text.

Fixable defects are fixed in place (a heading before the text, wrapping quotes, and, if configured, a
text cut off mid-sentence is trimmed to its last full sentence); every other defect, and a text that copies
a phrase of the domain's example records (an echo of the prompt), drops the row with
the detector's reason (the first that fired, in the detector's order), counted in the manifest like any
other drop. Runs after redaction, so it judges exactly the text that would be published.
"""

from __future__ import annotations

import pyarrow as pa

from rpsg_ray.config import Domain, QualityConfig
from rpsg_ray.quality.detector import judge, length_span
from rpsg_ray.rows import Stage, StageResult, texts


class Quality(Stage):
    name = "quality"
    inputs = ("synthetic_text", "target_words")
    outputs = {"synthetic_text": pa.string()}

    def __init__(self, cfg: QualityConfig, domain: Domain, length_tolerance: float) -> None:
        self.cfg, self.domain, self.tolerance = cfg, domain, length_tolerance

    def process(self, rows: pa.Table) -> StageResult:
        text = texts(rows, "synthetic_text")
        if not self.cfg.enabled:
            return StageResult({"synthetic_text": text})
        targets = rows.column("target_words").to_pylist()
        verdicts = [
            judge(t, self.domain, length_span(n, self.tolerance) if n else None, self.cfg.trim_truncated)
            for t, n in zip(text, targets, strict=True)
        ]
        return StageResult(
            {"synthetic_text": [v.text for v in verdicts]},
            [None if v.ok else v.reasons[0] for v in verdicts],
        )

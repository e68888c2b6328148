"""label: give every seed a sentiment label (positive/negative/unknown) unless the input had one."""

from __future__ import annotations

import pyarrow as pa

from rpsg_ray.config import LabelConfig
from rpsg_ray.engines.registry import load_classifier
from rpsg_ray.rows import Stage, StageResult, texts


class Label(Stage):
    name = "label"
    inputs = ("text", "label")
    outputs = {"label": pa.string(), "label_source": pa.string()}

    def __init__(self, cfg: LabelConfig) -> None:
        self.classifier = load_classifier(cfg.classifier)

    def process(self, rows: pa.Table) -> StageResult:
        given = rows.column("label").to_pylist()
        missing = [i for i, label in enumerate(given) if label is None]
        predicted = self.classifier.classify([texts(rows, "text")[i] for i in missing]) if missing else []
        labels, sources = list(given), ["input"] * len(given)
        for i, sentiment in zip(missing, predicted, strict=True):
            labels[i], sources[i] = sentiment.label, "classifier"
        return StageResult({"label": labels, "label_source": sources})

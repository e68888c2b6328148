"""scrub: the seed with its identifiers replaced by typed placeholders, before any prompt carries it.

The abstraction never needs a real name, number or address, so the generator is never shown one: the
abstract stage and the selection's retry prompt read `prompt_text`, never `text`. The seed itself stays in
the row only for scoring against private text (the selection's cosine, the copy guard), which sends
nothing to a generator. `prompt_text` is private like the seed and is never written to the run's parts.
Counts go to the manifest as `pii_seed_<kind>`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rpsg_ray.config import Domain, RedactConfig
from rpsg_ray.rows import Columns, Stage, StageResult, texts
from rpsg_ray.stages.redact import Redactor, count_types, redaction_kinds


class Scrub(Stage):
    name = "scrub"

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        kinds = redaction_kinds(kwargs["cfg"], kwargs["domain"])
        outputs = {"prompt_text": pa.string(), **count_types(kinds, "pii_seed_")}
        return Columns(cls.name, ("text",), outputs, private=("prompt_text",))

    def __init__(self, cfg: RedactConfig, domain: Domain) -> None:
        self.redactor = Redactor(cfg, domain)

    def output_types(self) -> dict[str, pa.DataType]:
        return {"prompt_text": pa.string(), **self.redactor.count_types("pii_seed_")}

    def process(self, rows: pa.Table) -> StageResult:
        cleaned, counts = self.redactor(texts(rows, "text"))
        return StageResult({"prompt_text": cleaned, **self.redactor.count_columns(counts, "pii_seed_")})

"""Shadow outputs for the re-run attack: a finished run's method, run again with its published config and a
fresh secret key on records the auditor holds (members and non-members alike). A per-record method turns each
record into one output through public prompts and a public model; an attacker who holds a candidate can do
the same and look for a released row that resembles the candidate's own output. Everything written here (the
candidates, the shadow run) is private and stays in the audit's scratch folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.config import Config, InputConfig
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.io.tables import Records
from rpsg_ray.pipeline import generate


def shadow_outputs(run_dir: Path, candidates: Records, *, full_strength: bool = False) -> list[str | None]:
    """Per candidate, the text the run's method made of it in a run of its own (None where the method kept no
    row for it: quarantined or filtered out). `full_strength`: with the method's noise off (its ε unset), the
    most its outputs can carry of their records. The shadow run lives in a temporary folder, removed after."""
    cfg = Config.model_validate(RunFiles.open(run_dir).public_manifest()["config"])
    if full_strength:
        cfg = _without_noise(cfg)
    with tempfile.TemporaryDirectory(prefix="rpsg-rerun-") as scratch:
        return _shadow_run(cfg, candidates, Path(scratch))


def _without_noise(cfg: Config) -> Config:
    """The run's config with its method's ε unset (no noise); a method without an ε (RUPTA) is unchanged."""
    section = getattr(cfg, cfg.method)
    if "epsilon" not in type(section).model_fields:
        return cfg
    return cfg.model_copy(update={cfg.method: section.model_copy(update={"epsilon": None})})


def _shadow_run(cfg: Config, candidates: Records, scratch: Path) -> list[str | None]:
    path = scratch / "candidates.parquet"
    columns = {"id": candidates.ids, "text": candidates.texts}
    source = {"path": str(path), "format": "parquet", "text_field": "text", "id_field": "id"}
    if any(candidates.labels):  # named only when present: a label field set explicitly must exist
        columns["label"], source["label_field"] = candidates.labels, "label"
    pq.write_table(pa.table(columns), path)
    limits = cfg.input.model_dump(include={"max_chars", "min_chars"})  # the run's own quarantine rules
    update = {"input": InputConfig(**source, **limits), "output_dir": str(scratch / "run")}
    shadow = RunFiles.open(generate(cfg.model_copy(update=update), overwrite=True).run_dir)
    lineage = shadow.lineage(["seed_id", "synthetic_id"], ["seed_id", "synthetic_id"])
    rows = shadow.synthetic(["synthetic_id", "text"], ["synthetic_id", "text"])
    text_of = dict(zip(rows["synthetic_id"].to_pylist(), rows["text"].to_pylist(), strict=True))
    assert lineage is not None  # a run this process just finished always has its lineage
    seeds, outputs = lineage["seed_id"].to_pylist(), lineage["synthetic_id"].to_pylist()
    made = {s: text_of.get(o) for s, o in zip(seeds, outputs, strict=True)}
    return [made.get(i) for i in candidates.ids]

"""Read what is measured: a run directory's public rows, its private diagnostics if any, the real splits.

Every method writes `synthetic.parquet` with `synthetic_id`, `text` and `label` (a run written before
every method kept ids gets ids made from the row number). Only those three columns are read, so a run
from before or after the public/private split of the run directory reads the same way. The private
diagnostics (`private/diagnostics.parquet`) are joined by `synthetic_id`, never by row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rpsg_ray.errors import InputError
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.io.tables import Records, read_table
from rpsg_ray.rows import as_label

PUBLIC_COLUMNS = ("synthetic_id", "text", "label")


@dataclass(frozen=True)
class RunData:
    """One run directory: its rows, what method wrote it, and its run-level side information."""

    path: Path
    method: str
    rows: Records
    sentiment_match: dict[str, bool] | None  # synthetic_id -> matched its seed's sentiment (private diagnostics)
    pii_counts: dict[str, int] | None

    @property
    def name(self) -> str:
        return self.path.name


def load_real(path: Path) -> Records:
    """A real split written by `rpsg prepare` (or any Parquet file with text and label)."""
    if not path.is_file():
        raise InputError(f"{path}: not found (run `rpsg prepare`, or pass --real-test / --real-train)")
    table = read_table(path, ("id", "text", "label"), ("text", "label"))
    ids = table["id"].to_pylist() if "id" in table.column_names else range(table.num_rows)
    labels = [as_label(x) or "" for x in table["label"].to_pylist()]  # 0/1 columns compare with published "0"/"1"
    return Records([str(i) for i in ids], table["text"].to_pylist(), labels)


def check_disjoint(real: Records, split: Path, runs: list[RunData]) -> None:
    """A real test split that holds a run's private records scores copying as utility: refuse it. Compared by
    id with the run's lineage (a run without one, e.g. a peer's, is not checked); only a count is reported."""
    ids = set(real.ids)
    for run in runs:
        lineage = RunFiles.open(run.path).lineage(["seed_id"], ["seed_id"])
        shared = 0 if lineage is None else len(ids.intersection(map(str, lineage["seed_id"].to_pylist())))
        if shared:
            raise InputError(
                f"{split}: {shared} of its records are private records of the run {run.path} (by id); measure "
                "against a split disjoint from the private set (`rpsg prepare` writes one)"
            )


def _sentiment_match(files: RunFiles, ids: list[str]) -> dict[str, bool] | None:
    """Each row's match with its seed's sentiment, where the method's stages recorded one (RPSG's rewrite)."""
    table = files.diagnostics(["synthetic_id", "sentiment_match"], ["synthetic_id"])  # decodes these two only
    if table is None or "sentiment_match" not in table.column_names:
        return None
    wanted = set(ids)
    return {
        sid: bool(m)
        for sid, m in zip(table["synthetic_id"].to_pylist(), table["sentiment_match"].to_pylist(), strict=True)
        if sid in wanted and m is not None
    }


def _pii_counts(files: RunFiles) -> dict[str, int] | None:
    """The output's redaction counts; the seed_* counts say what the private seeds held and are left out."""
    pii = files.full_manifest().get("pii_redactions")
    if not isinstance(pii, dict):
        return None
    return {str(k): int(v) for k, v in pii.items() if not str(k).startswith("seed_")}


def load_run(run_dir: Path) -> RunData:
    """Read a run directory of any method through the same public columns."""
    files = RunFiles.open(run_dir)
    table = files.synthetic(PUBLIC_COLUMNS, ("text", "label"))
    if table.num_rows == 0:
        raise InputError(f"{files.layout.synthetic}: no rows to evaluate")
    has_ids = "synthetic_id" in table.column_names
    ids = [str(i) for i in table["synthetic_id"].to_pylist()] if has_ids else [f"row-{k}" for k in range(len(table))]
    return RunData(
        path=run_dir,
        method=str(files.public_manifest().get("method", "rpsg")),
        rows=Records(ids, table["text"].to_pylist(), [str(x) for x in table["label"].to_pylist()]),
        sentiment_match=_sentiment_match(files, ids) if has_ids else None,
        pii_counts=_pii_counts(files),
    )

"""Read what is measured: a run directory's public rows, its private diagnostics if any, the real splits.

Every method writes `synthetic.parquet` with `text` and `label`; RPSG runs add `synthetic_id` (AUG-PE
runs have none, so ids are made from the row number). Only those three columns are read, so a run
from before or after the public/private split of the run directory reads the same way. The private
diagnostics (`private/diagnostics.parquet`) are joined by `synthetic_id`, never by row order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from rpsg_ray.errors import InputError
from rpsg_ray.io.layout import RunLayout

PUBLIC_COLUMNS = ("synthetic_id", "text", "label")


@dataclass(frozen=True)
class TextSet:
    """Rows to measure: parallel lists of ids, texts and sentiment labels."""

    name: str
    ids: list[str]
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class RunData:
    """One run directory: its rows, what method wrote it, and its run-level side information."""

    path: Path
    method: str
    rows: TextSet
    sentiment_match: dict[str, bool] | None  # synthetic_id -> matched its seed's sentiment (private diagnostics)
    pii_counts: dict[str, int] | None


def _read_table(path: Path, columns: tuple[str, ...], required: tuple[str, ...]) -> dict[str, list]:
    if not path.is_file():
        raise InputError(f"{path}: not found")
    try:
        names = pq.read_schema(path).names
    except Exception as e:  # pyarrow raises several types for a broken footer
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    table = pq.read_table(path, columns=[c for c in columns if c in names])
    return {c: table.column(c).to_pylist() for c in table.column_names}


def load_real(path: Path, name: str) -> TextSet:
    """A real split written by `rpsg prepare` (or any Parquet file with text and label)."""
    if not path.is_file():
        raise InputError(f"{path}: not found (run `rpsg prepare`, or pass --real-test / --real-train)")
    cols = _read_table(path, ("id", "text", "label"), ("text", "label"))
    ids = [str(i) for i in cols.get("id", range(len(cols["text"])))]
    return TextSet(name, ids, cols["text"], cols["label"])


def _manifest(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _sentiment_match(run_dir: Path, ids: list[str]) -> dict[str, bool] | None:
    path = RunLayout(run_dir).diagnostics
    if not path.is_file():
        return None
    cols = _read_table(path, ("synthetic_id", "sentiment_match"), ("synthetic_id", "sentiment_match"))
    wanted = set(ids)
    return {
        sid: bool(m)
        for sid, m in zip(cols["synthetic_id"], cols["sentiment_match"], strict=True)
        if sid in wanted and m is not None
    }


def load_run(run_dir: Path) -> RunData:
    """Read a run directory of any method through the same public columns."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a run directory")
    layout = RunLayout(run_dir)
    cols = _read_table(layout.synthetic, PUBLIC_COLUMNS, ("text", "label"))
    n = len(cols["text"])
    if n == 0:
        raise InputError(f"{layout.synthetic}: no rows to evaluate")
    ids = [str(i) for i in cols.get("synthetic_id", [f"row-{k}" for k in range(n)])]
    manifest = _manifest(layout.manifest)
    # Redaction counts live in the full manifest under private/ (a run from before the split has one manifest).
    # Only the output's are read: the seed_* counts say what the private seeds held.
    pii = (_manifest(layout.private_manifest) or manifest).get("pii_redactions")
    if isinstance(pii, dict):
        pii = {k: v for k, v in pii.items() if not str(k).startswith("seed_")}
    return RunData(
        path=run_dir,
        method=str(manifest.get("method", "rpsg")),
        rows=TextSet(run_dir.name, ids, cols["text"], [str(x) for x in cols["label"]]),
        sentiment_match=_sentiment_match(run_dir, ids) if "synthetic_id" in cols else None,
        pii_counts={str(k): int(v) for k, v in pii.items()} if isinstance(pii, dict) else None,
    )

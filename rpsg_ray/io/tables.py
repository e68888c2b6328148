"""Record files read whole for measuring (`rpsg evaluate`, `rpsg audit`): one reader, one row set.

A Parquet, JSONL or CSV file becomes one Arrow table, with the same one-line errors for a missing file, an
unreadable one or a missing column wherever it is read. These files hold thousands of rows, not millions:
the streaming pipeline reads its input through `sources` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from rpsg_ray.errors import InputError

PARQUET, JSONL, CSV = (".parquet", ".pq"), (".jsonl", ".ndjson"), (".csv",)


@dataclass(frozen=True)
class Records:
    """Aligned ids, texts and labels (label "" where the file has none)."""

    ids: list[str]
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: Sequence[int]) -> Records:
        return Records([self.ids[i] for i in rows], [self.texts[i] for i in rows], [self.labels[i] for i in rows])

    def subset(self, keep: list[bool]) -> Records:
        return self.take([i for i, k in enumerate(keep) if k])


def _read(path: Path, columns: Sequence[str] | None) -> pa.Table:
    suffix = path.suffix.lower()
    if suffix in PARQUET:  # only the wanted columns are decoded
        names = pq.read_schema(path).names
        return pq.read_table(path, columns=None if columns is None else [c for c in names if c in columns])
    if suffix in JSONL:
        return pajson.read_json(path)
    if suffix in CSV:
        return pacsv.read_csv(path)
    raise InputError(f"{path}: unsupported file type {suffix!r} (use .parquet, .jsonl or .csv)")


def read_table(path: Path, columns: Sequence[str] | None = None, required: Sequence[str] = ()) -> pa.Table:
    """The file's columns among `columns` (every column when None), in the file's order; the `required` ones
    (among `columns`) must be there."""
    if not path.is_file():
        raise InputError(f"{path}: not found")
    try:
        table = _read(path, columns)
    except (pa.ArrowException, OSError) as e:  # pyarrow raises several types for a broken file
        raise InputError(f"{path}: cannot be read ({type(e).__name__})") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return table if columns is None else table.select([c for c in table.column_names if c in columns])

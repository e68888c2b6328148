"""Find the input files and cut them into read units, checking what can be checked up front.

A read unit is a piece of one file that one Ray task parses: a Parquet row group, a byte range of
a JSONL file (split on line boundaries), or a whole CSV file (quoted newlines make CSV unsplittable).
File-level problems (missing path, no permission, symlink loop, empty file, unreadable Parquet
footer, missing text column) stop the run here with one line naming the file.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from rpsg_ray.config import InputConfig
from rpsg_ray.errors import InputError

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
POS_BITS = 40  # pos = file_index << POS_BITS | offset-in-file: orders rows for "first occurrence wins"


@dataclass(frozen=True)
class ReadUnit:
    path: str
    format: str
    file_index: int
    start: int  # byte offset (jsonl), first row (parquet) or 0 (csv)
    end: int  # byte end (jsonl); row group index for parquet
    text_field: str
    id_field: str
    label_field: str
    max_chars: int
    min_chars: int

    def as_item(self) -> dict[str, object]:
        return asdict(self)


def _list_files(root: Path) -> list[Path]:
    if not os.path.lexists(root):
        raise InputError(f"{root}: input path does not exist")
    try:
        root.resolve(strict=True)
    except RuntimeError:
        raise InputError(f"{root}: symlink loop") from None
    except OSError as e:
        raise InputError(f"{root}: cannot resolve path ({e.strerror})") from None
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: not a regular file or directory")
    files: list[Path] = []
    for dirpath, _dirs, names in os.walk(root, followlinks=False, onerror=_raise_walk_error):
        for name in sorted(names):
            path = Path(dirpath) / name
            if not name.startswith((".", "_")) and path.suffix.lower() in SUFFIXES:
                files.append(path)
    if not files:
        raise InputError(f"{root}: directory holds no .parquet, .jsonl or .csv files")
    return sorted(files)


def _raise_walk_error(e: OSError) -> None:
    raise InputError(f"{e.filename}: cannot list directory ({e.strerror})")


def _format_of(path: Path, configured: str) -> str:
    if configured != "auto":
        return configured
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown file type {path.suffix!r} (use .parquet, .jsonl or .csv, or set input.format)"
        )
    return fmt


def _check_readable(path: Path) -> int:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            f.read(1)
    except RuntimeError:
        raise InputError(f"{path}: symlink loop") from None
    except PermissionError:
        raise InputError(f"{path}: no read permission") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    return size


def _parquet_units(path: Path, index: int, cfg: InputConfig) -> list[ReadUnit]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as e:
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    names = meta.schema.names
    if cfg.text_field not in names:
        raise InputError(f"{path}: no {cfg.text_field!r} column (columns: {', '.join(names[:10])})")
    if meta.num_rows == 0:
        raise InputError(f"{path}: file has a header but no rows")
    units, first = [], 0
    for group in range(meta.num_row_groups):
        units.append(_unit(path, "parquet", index, first, group, cfg))
        first += meta.row_group(group).num_rows
    return units


def _csv_units(path: Path, index: int, cfg: InputConfig) -> list[ReadUnit]:
    with path.open("rb") as f:
        head = f.read(65536).decode("utf-8", errors="replace").replace("\x00", "")
    try:
        header = next(csv.reader(io.StringIO(head)), [])
    except csv.Error as e:
        raise InputError(f"{path}: cannot parse CSV header ({e})") from None
    if cfg.text_field not in header:
        raise InputError(f"{path}: no {cfg.text_field!r} column in the CSV header")
    if "\n" not in head.rstrip("\r\n") and len(head) < 65536:
        raise InputError(f"{path}: file has a header but no rows")
    return [_unit(path, "csv", index, 0, 0, cfg)]


def _jsonl_units(path: Path, index: int, size: int, cfg: InputConfig) -> list[ReadUnit]:
    chunk = cfg.jsonl_chunk_mb * 1024 * 1024
    return [_unit(path, "jsonl", index, start, min(start + chunk, size), cfg) for start in range(0, size, chunk)]


def _unit(path: Path, fmt: str, index: int, start: int, end: int, cfg: InputConfig) -> ReadUnit:
    return ReadUnit(
        str(path), fmt, index, start, end, cfg.text_field, cfg.id_field, cfg.label_field, cfg.max_chars, cfg.min_chars
    )


def plan_read_units(cfg: InputConfig) -> list[ReadUnit]:
    """All read units of the input, in a stable order; raises InputError for file-level problems."""
    if not cfg.path:
        raise InputError("no input: set input.path in the config or pass --input")
    root = Path(cfg.path)
    files = _list_files(root)
    units: list[ReadUnit] = []
    empty = []
    for index, path in enumerate(files):
        if index >= 1 << (63 - POS_BITS):
            raise InputError(f"{root}: too many files")
        size = _check_readable(path)
        if size == 0:
            empty.append(path)
            continue
        fmt = _format_of(path, cfg.format)
        if fmt == "parquet":
            units.extend(_parquet_units(path, index, cfg))
        elif fmt == "csv":
            units.extend(_csv_units(path, index, cfg))
        else:
            units.extend(_jsonl_units(path, index, size, cfg))
    if not units:
        names = ", ".join(str(p) for p in empty[:3])
        raise InputError(f"{names}: input is empty (0 bytes)")
    return units

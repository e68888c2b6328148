"""Find the input files and cut them into read units, checking what can be checked up front.

A read unit is a piece of one file that one Ray task parses: a Parquet row group, a byte range of
an uncompressed JSONL file (split on line boundaries), or a whole CSV, JSON-array or compressed
file (quoted newlines, array nesting and compression streams cannot be entered mid-way).
File-level problems (missing path, no permission, symlink loop, empty file, unreadable Parquet
footer or compressed stream, missing text column) stop the run here with one line naming the file,
what was found and what to set.

Column names are resolved per file and carried in the unit: the configured name, else the one
column that matches it ignoring case and surrounding spaces (`Text` for `text`). An optional column
(id, label) set explicitly in the config must exist; left at its default it may be absent.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

from rpsg_ray.config import InputConfig
from rpsg_ray.errors import InputError
from rpsg_ray.io.formats import (
    ACCEPTED,
    BOM,
    MalformedJson,
    iter_json_array,
    kind_of,
    open_binary,
    open_text,
    read_error,
)

POS_BITS = 40  # pos = file_index << POS_BITS | offset-in-file: orders rows for "first occurrence wins"
HEAD_BYTES = 65536  # how much of a text file is read up front to find its header or field names
PEEK_OBJECTS = 20  # JSON objects whose keys are looked at for the field names
MAX_NAME_CHARS = 32  # longer "column names" are not shown in errors: they may be record text


@dataclass(frozen=True)
class ReadUnit:
    path: str
    format: str
    compression: str | None
    file_index: int
    start: int  # byte offset (jsonl), first row (parquet) or 0
    end: int  # byte end (jsonl); row group index for parquet
    text_field: str  # the column names as this file spells them
    id_field: str
    label_field: str
    max_chars: int
    min_chars: int
    labels: tuple[str, ...] = ()  # the declared label set (domain.labels); empty: sentiment

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
    skipped: Counter[str] = Counter()
    for dirpath, _dirs, names in os.walk(root, followlinks=False, onerror=_raise_walk_error):
        for name in sorted(names):
            path = Path(dirpath) / name
            if name.startswith((".", "_")):
                continue
            if kind_of(path)[0] is not None:
                files.append(path)
            else:
                skipped["".join(path.suffixes[-2:]).lower() or "no suffix"] += 1
    if not files:
        found = ", ".join(f"{n} {s}" for s, n in skipped.most_common(5)) or "nothing"
        raise InputError(f"{root}: directory holds no {ACCEPTED}; found: {found}")
    return sorted(files)


def _raise_walk_error(e: OSError) -> None:
    raise InputError(f"{e.filename}: cannot list directory ({e.strerror})")


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


def _head(path: Path, compression: str | None) -> bytes:
    """The first HEAD_BYTES of the (decompressed) file, byte-order mark removed."""
    try:
        with open_binary(str(path), compression) as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        raise read_error(path, compression, e) from None
    return head.removeprefix(BOM)


def _name_like(name: str) -> bool:
    """Column names are short and not numbers; anything else may be a record of a header-less file."""
    if len(name) > MAX_NAME_CHARS or len(name.split()) > 3:
        return False
    try:
        float(name)
    except ValueError:
        return True
    return False


def _columns_note(names: list[str], header_row: bool) -> str:
    """What was found, for an error message, without risking record text (see _name_like)."""
    if header_row and not all(_name_like(n) for n in names):
        return "the first row does not look like a header (is the header row missing?)"
    shown = [repr(n) if n.strip() != n or not n else n for n in names if _name_like(n)]
    hidden = len(names) - len(shown)
    listing = ", ".join(shown[:12]) + (f" and {len(shown) - 12} more" if len(shown) > 12 else "")
    if hidden:
        listing += f"{', ' if shown else ''}{hidden} not shown (long or numeric names)"
    return f"columns present: {listing or 'none'}"


def _pick(path: Path, names: list[str], cfg: InputConfig, setting: str, required: bool, header_row: bool) -> str:
    wanted: str = getattr(cfg, setting)
    if wanted in names:
        return wanted
    folded = [n for n in names if n.strip().casefold() == wanted.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    if len(folded) > 1:
        raise InputError(
            f"{path}: {len(folded)} columns match {wanted!r} when case is ignored "
            f"({', '.join(map(repr, folded))}); set input.{setting} to one of them"
        )
    if required or setting in cfg.model_fields_set:
        raise InputError(
            f"{path}: no {wanted!r} column; {_columns_note(names, header_row)}; set input.{setting}"
            + ("" if required else " to a column of the file, or remove it")
        )
    return wanted  # optional and absent: ids become content-derived, labels stay empty


def _fields(path: Path, names: list[str], cfg: InputConfig, header_row: bool = False) -> tuple[str, str, str]:
    return (
        _pick(path, names, cfg, "text_field", True, header_row),
        _pick(path, names, cfg, "id_field", False, header_row),
        _pick(path, names, cfg, "label_field", False, header_row),
    )


def _parquet_units(path: Path, index: int, cfg: InputConfig) -> list[ReadUnit]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as e:
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    fields = _fields(path, list(meta.schema.names), cfg)
    if meta.num_rows == 0:
        raise InputError(f"{path}: file has a header but no rows")
    units, first = [], 0
    for group in range(meta.num_row_groups):
        units.append(_unit(path, "parquet", None, index, first, group, fields, cfg))
        first += meta.row_group(group).num_rows
    return units


def _csv_units(path: Path, index: int, compression: str | None, head: bytes, cfg: InputConfig) -> list[ReadUnit]:
    text = head.decode("utf-8", errors="replace").replace("\x00", "")
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as e:
        raise InputError(f"{path}: cannot parse CSV header ({e})") from None
    fields = _fields(path, header, cfg, header_row=True)
    if "\n" not in text.rstrip("\r\n") and len(head) < HEAD_BYTES:
        raise InputError(f"{path}: file has a header but no rows")
    return [_unit(path, "csv", compression, index, 0, 0, fields, cfg)]


def _keys(objects: Iterable[object]) -> list[str]:
    keys: dict[str, None] = {}
    for obj in islice((o for o in objects if isinstance(o, dict)), PEEK_OBJECTS):
        keys.update(dict.fromkeys(obj))
    return list(keys)


def _json_lines(head: bytes) -> Iterable[object]:
    for line in head.splitlines()[: PEEK_OBJECTS * 2]:
        try:
            yield json.loads(line)
        except ValueError:  # broken or cut-off line: the parser quarantines it, the peek skips it
            continue


def _jsonl_units(
    path: Path, index: int, size: int, compression: str | None, head: bytes, cfg: InputConfig
) -> list[ReadUnit]:
    keys = _keys(_json_lines(head))
    fields = _fields(path, keys, cfg) if keys else (cfg.text_field, cfg.id_field, cfg.label_field)
    if compression:  # a compressed stream cannot be entered mid-way
        return [_unit(path, "jsonl", compression, index, 0, 0, fields, cfg)]
    chunk = cfg.jsonl_chunk_mb * 1024 * 1024
    return [
        _unit(path, "jsonl", None, index, start, min(start + chunk, size), fields, cfg)
        for start in range(0, size, chunk)
    ]


def _json_array_units(path: Path, index: int, compression: str | None, cfg: InputConfig) -> list[ReadUnit]:
    try:
        with open_text(str(path), compression) as f:
            first = list(islice(iter_json_array(f, HEAD_BYTES), PEEK_OBJECTS))
    except MalformedJson as e:
        raise InputError(f"{path}: malformed JSON ({e}); use a JSON array of objects, or JSON lines") from None
    except OSError as e:
        raise read_error(path, compression, e) from None
    if not first:
        raise InputError(f"{path}: the JSON array is empty (no records)")
    keys = _keys(first)
    fields = _fields(path, keys, cfg) if keys else (cfg.text_field, cfg.id_field, cfg.label_field)
    return [_unit(path, "json", compression, index, 0, 0, fields, cfg)]


def _unit(
    path: Path,
    fmt: str,
    compression: str | None,
    index: int,
    start: int,
    end: int,
    fields: tuple[str, str, str],
    cfg: InputConfig,
) -> ReadUnit:
    return ReadUnit(str(path), fmt, compression, index, start, end, *fields, cfg.max_chars, cfg.min_chars)


def _format_of(path: Path, configured: str, head: bytes | None) -> str:
    """The configured format, else the suffix's; a .json file holds an array or JSON lines: its first
    character says which."""
    fmt = configured if configured != "auto" else kind_of(path)[0]
    if fmt is None:
        suffix = "".join(path.suffixes[-2:]) or "(none)"
        raise InputError(f"{path}: unknown file type {suffix!r}; use {ACCEPTED}, or set input.format")
    if fmt == "json" and configured == "auto" and head is not None and not head.lstrip().startswith(b"["):
        return "jsonl"
    return fmt


def _file_units(path: Path, index: int, size: int, cfg: InputConfig) -> list[ReadUnit]:
    compression = kind_of(path)[1]
    fmt = _format_of(path, cfg.format, None)
    if fmt == "parquet":
        return _parquet_units(path, index, cfg)
    head = _head(path, compression)
    if not head.strip():
        return []
    fmt = _format_of(path, cfg.format, head)
    if fmt == "csv":
        return _csv_units(path, index, compression, head, cfg)
    if fmt == "json":
        return _json_array_units(path, index, compression, cfg)
    return _jsonl_units(path, index, size, compression, head, cfg)


def plan_read_units(cfg: InputConfig, labels: tuple[str, ...] = ()) -> list[ReadUnit]:
    """All read units of the input, in a stable order, each carrying the declared label set the parser checks
    values against; raises InputError for file-level problems."""
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
        found = _file_units(path, index, size, cfg) if size else []
        if not found:
            empty.append(path)
        units.extend(found)
    if not units:
        names = ", ".join(str(p) for p in empty[:3])
        raise InputError(f"{names}: input is empty (no records)")
    return [replace(u, labels=labels) for u in units]

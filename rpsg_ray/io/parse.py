"""Parse one read unit into validated rows (a Ray Data map over read units).

Each record becomes exactly one row: ``status='ok'`` with its text, or ``status='quarantined'``
with a reason and no text. Structural damage that makes a whole file unreadable (a CSV quote that
never closes, a Parquet page that fails to decode) raises InputError naming the file; it never
includes record text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from rpsg_ray.errors import InputError
from rpsg_ray.io.sources import POS_BITS
from rpsg_ray.rows import QUARANTINED, ROW_SCHEMA

LABELS = {"positive": "positive", "pos": "positive", "negative": "negative", "neg": "negative"}
NUL_MARK = "\ue000"  # NUL bytes are swapped for this private-use char so csv can parse the row

Raw = tuple[Any, Any, Any, str, int]  # (id, text, label, source, offset)


def content_id(text: str) -> str:
    return "c" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _normalise_id(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    value = str(raw).strip()
    return value or None


def _problem(text: Any, unit: dict[str, Any]) -> str | None:
    """Why a text cannot be a seed, or None."""
    if text is None:
        return "text is null"
    if not isinstance(text, str):
        return f"text is {type(text).__name__}, not a string"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text is not valid UTF-8"
    if "\x00" in text or NUL_MARK in text:
        return "text contains NUL bytes"
    stripped = text.strip()
    if not stripped:
        return "text is empty or whitespace"
    if len(text) > unit["max_chars"]:
        return f"text too long ({len(text)} chars > max_chars {unit['max_chars']})"
    if len(stripped) < unit["min_chars"]:
        return f"text too short ({len(stripped)} chars < min_chars {unit['min_chars']})"
    if not any(ch.isalpha() for ch in stripped):
        return "text has no letters"
    return None


def _row(raw: Raw, unit: dict[str, Any]) -> dict[str, Any]:
    raw_id, text, raw_label, source, offset = raw
    pos = (unit["file_index"] << POS_BITS) | offset
    problem = _problem(text, unit)
    rid = _normalise_id(raw_id)
    if problem is None:
        label = LABELS.get(str(raw_label).strip().lower()) if raw_label is not None else None
        return {
            "id": rid or content_id(text),
            "text": text,
            "label": label,
            "source": source,
            "pos": pos,
            "status": "ok",
            "stage": None,
            "reason": None,
        }
    fallback = "q" + hashlib.blake2b(source.encode(), digest_size=8).hexdigest()
    return {
        "id": rid or fallback,
        "text": None,
        "label": None,
        "source": source,
        "pos": pos,
        "status": QUARANTINED,
        "stage": "read",
        "reason": problem,
    }


def _error_row(reason: str, source: str, offset: int) -> Raw:
    return (None, _Broken(reason), None, source, offset)


class _Broken:
    """Stands in for a text that could not even be decoded; carries the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _csv_rows(unit: dict[str, Any]) -> Iterator[Raw]:
    path = unit["path"]
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8", errors="surrogateescape").replace("\x00", NUL_MARK)
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        cols = {name: i for i, name in enumerate(header)}
        t, i, lab = cols[unit["text_field"]], cols.get(unit["id_field"]), cols.get(unit["label_field"])
        for n, record in enumerate(reader, start=1):
            source = f"{path}:row {n}"
            if not record:
                continue  # blank line: not a record
            if len(record) != len(header):
                yield _error_row(f"row has {len(record)} fields, header has {len(header)}", source, n)
                continue
            yield (
                record[i] if i is not None else None,
                record[t],
                record[lab] if lab is not None else None,
                source,
                n,
            )
    except csv.Error as e:
        raise InputError(f"{path}: malformed CSV near line {reader.line_num} ({e})") from None


def _jsonl_rows(unit: dict[str, Any]) -> Iterator[Raw]:
    path, start, end = unit["path"], unit["start"], unit["end"]
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # a line that starts before `start` belongs to the previous unit
        while (offset := f.tell()) < end:
            line = f.readline()
            if not line:
                break
            source = f"{path}:byte {offset}"
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                yield _error_row("line is not valid UTF-8", source, offset)
                continue
            except json.JSONDecodeError as e:
                yield _error_row(f"broken JSON line ({e.msg} at column {e.colno})", source, offset)
                continue
            if not isinstance(obj, dict):
                yield _error_row(f"JSON line is a {type(obj).__name__}, not an object", source, offset)
                continue
            if unit["text_field"] not in obj:
                yield _error_row(f"JSON object has no {unit['text_field']!r} field", source, offset)
                continue
            yield (obj.get(unit["id_field"]), obj[unit["text_field"]], obj.get(unit["label_field"]), source, offset)


def _parquet_rows(unit: dict[str, Any]) -> Iterator[Raw]:
    import pyarrow.parquet as pq

    path = unit["path"]
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        wanted = [c for c in (unit["text_field"], unit["id_field"], unit["label_field"]) if c in names]
        table = pf.read_row_group(unit["end"], columns=wanted)
    except Exception as e:
        raise InputError(f"{path}: row group {unit['end']} cannot be read ({type(e).__name__})") from None
    n = table.num_rows
    texts = table.column(unit["text_field"]).to_pylist()
    ids = table.column(unit["id_field"]).to_pylist() if unit["id_field"] in names else [None] * n
    labels = table.column(unit["label_field"]).to_pylist() if unit["label_field"] in names else [None] * n
    for k in range(n):
        row = unit["start"] + k
        yield (ids[k], texts[k], labels[k], f"{path}:row {row + 1}", row)


READERS = {"csv": _csv_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows}


def parse_unit(unit: dict[str, Any]) -> pa.Table:
    rows = []
    for raw in READERS[unit["format"]](unit):
        if isinstance(raw[1], _Broken):
            rid, broken, _label, source, offset = raw
            row = _row((rid, None, None, source, offset), unit)
            row["reason"] = broken.reason
            rows.append(row)
        else:
            rows.append(_row(raw, unit))
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def parse_units(batch: pa.Table, block_rows: int = 1024) -> Iterator[pa.Table]:
    """map_batches entry point: a batch of read units in, their rows out in blocks of ≤ block_rows."""
    for unit in batch.to_pylist():
        table = parse_unit(unit)
        for start in range(0, table.num_rows, block_rows):
            yield table.slice(start, block_rows)

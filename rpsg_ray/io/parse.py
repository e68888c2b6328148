"""Parse one read unit into validated rows (a Ray Data map over read units).

Each record becomes exactly one row: ``status='ok'`` with its text, or ``status='quarantined'``
with a reason and no text. Structural damage that makes a whole file unreadable (a CSV quote that
never closes, a JSON array that breaks off, a corrupt compressed stream, a Parquet page that fails to
decode) raises InputError naming the file; it never includes record text. Rows are built as the file
is read, block by block.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from rpsg_ray.errors import InputError
from rpsg_ray.io.formats import BOM, MalformedJson, iter_json_array, open_binary, open_text, read_error
from rpsg_ray.io.sources import POS_BITS
from rpsg_ray.rows import QUARANTINED, ROW_SCHEMA, as_label

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


def _label(raw: Any, declared: list[str]) -> tuple[str | None, str | None]:
    """The row's label and, when it cannot be one, why. A declared set takes values as written (1 and 1.0
    alike); without one, sentiment words are the set and a missing label is left for the classifier. A value
    outside the set is never replaced; the reason does not repeat it (a label column may hold anything)."""
    value = as_label(raw)
    if declared:
        if value is None:
            return None, "label is missing (domain.labels declares the set)"
        return (value, None) if value in declared else (None, "label is not one of domain.labels")
    if value is None:
        return None, None
    sentiment = LABELS.get(value.lower())
    return (sentiment, None) if sentiment else (None, "label is not positive/negative: declare domain.labels")


def _row(raw: Raw, unit: dict[str, Any]) -> dict[str, Any]:
    raw_id, text, raw_label, source, offset = raw
    pos = (unit["file_index"] << POS_BITS) | offset
    label, problem = _label(raw_label, unit["labels"])
    problem = _problem(text, unit) or problem
    rid = _normalise_id(raw_id)
    if problem is None:
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
    csv.field_size_limit(sys.maxsize)
    with open_text(path, unit["compression"]) as f:
        lines = (line.replace("\x00", NUL_MARK) for line in f)  # streamed: the file is never held whole
        reader = csv.reader(lines, strict=True)
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


def _byte_range_lines(unit: dict[str, Any]) -> Iterator[tuple[bytes, str, int]]:
    """(line, source, offset) of the lines that start in [start, end) of an uncompressed file."""
    path, start, end = unit["path"], unit["start"], unit["end"]
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # a line that starts before `start` belongs to the previous unit
        while (offset := f.tell()) < end:
            line = f.readline()
            if not line:
                break
            yield (line.removeprefix(BOM) if offset == 0 else line), f"{path}:byte {offset}", offset


def _stream_lines(unit: dict[str, Any]) -> Iterator[tuple[bytes, str, int]]:
    """(line, source, line number) of a whole compressed file, decompressed as a stream."""
    path = unit["path"]
    with open_binary(path, unit["compression"]) as f:
        for n, line in enumerate(f, start=1):
            yield (line.removeprefix(BOM) if n == 1 else line), f"{path}:line {n}", n


def _object_raw(obj: object, unit: dict[str, Any], what: str, source: str, offset: int) -> Raw:
    if not isinstance(obj, dict):
        return _error_row(f"{what} is a {type(obj).__name__}, not an object", source, offset)
    if unit["text_field"] not in obj:
        return _error_row(f"JSON object has no {unit['text_field']!r} field", source, offset)
    return (obj.get(unit["id_field"]), obj[unit["text_field"]], obj.get(unit["label_field"]), source, offset)


def _jsonl_rows(unit: dict[str, Any]) -> Iterator[Raw]:
    lines = _stream_lines(unit) if unit["compression"] else _byte_range_lines(unit)
    for line, source, offset in lines:
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
        yield _object_raw(obj, unit, "JSON line", source, offset)


def _json_array_rows(unit: dict[str, Any]) -> Iterator[Raw]:
    path = unit["path"]
    with open_text(path, unit["compression"]) as f:
        try:
            for n, obj in enumerate(iter_json_array(f)):
                yield _object_raw(obj, unit, "JSON array item", f"{path}:item {n + 1}", n)
        except MalformedJson as e:
            raise InputError(f"{path}: malformed JSON ({e})") from None


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


READERS = {"csv": _csv_rows, "jsonl": _jsonl_rows, "json": _json_array_rows, "parquet": _parquet_rows}


def _rows(unit: dict[str, Any]) -> Iterator[dict[str, Any]]:
    try:
        for raw in READERS[unit["format"]](unit):
            if isinstance(raw[1], _Broken):
                rid, broken, _label, source, offset = raw
                row = _row((rid, None, None, source, offset), unit)
                row["reason"] = broken.reason
                yield row
            else:
                yield _row(raw, unit)
    except OSError as e:  # a compressed stream that is corrupt or cut short, or a read failure
        raise read_error(unit["path"], unit["compression"], e) from None


def parse_units(batch: pa.Table, block_rows: int = 1024) -> Iterator[pa.Table]:
    """map_batches entry point: a batch of read units in, their rows out in blocks of ≤ block_rows,
    each block built as its rows are read (a large file is never parsed whole first)."""
    for unit in batch.to_pylist():
        rows: list[dict[str, Any]] = []
        for row in _rows(unit):
            rows.append(row)
            if len(rows) == block_rows:
                yield pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=ROW_SCHEMA)

"""Generate the hostile-input corpus (never hand-edited): `python tests/data/make_bad_inputs.py DIR`.

Each case is a file or directory plus what must happen (see Case): a one-line error naming the file
and reason, rows quarantined with a reason while the good rows in the same file survive, or a file as
an everyday tool exports it (Excel's BOM, capitalised headers, gzip, JSON arrays) read in full.
Canary strings mark private text so tests can check it never leaks into errors or logs.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

CANARY = "CANARY-7f3a9c-private-text"
BOM = b"\xef\xbb\xbf"  # what Excel's "CSV UTF-8" puts before the header
GOOD = f"A moving, beautifully acted drama that earns its tears. {CANARY}"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _jsonl(path: Path, rows: list[object]) -> Path:
    return _write(path, b"".join(json.dumps(r).encode() + b"\n" for r in rows))


def _parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _truncated_parquet(path: Path) -> Path:
    _parquet(path, pa.table({"text": [GOOD] * 50}))
    data = path.read_bytes()
    return _write(path, data[: len(data) // 2])


def _mixed_dir(root: Path) -> Path:
    _jsonl(root / "a.jsonl", [{"id": "j1", "text": GOOD}])
    _parquet(root / "b.parquet", pa.table({"id": ["p1"], "text": [GOOD]}))
    _write(root / "c.csv", f'id,text\nc1,"{GOOD}"\n'.encode())
    _write(root / "notes.txt", b"ignored: not an input suffix")
    return root


def _symlink_loop(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    a, b = root / "a.jsonl", root / "b.jsonl"
    os.symlink(b, a)
    os.symlink(a, b)
    return a


class Case(NamedTuple):
    """A generated input and what must happen to it: "error" (one line containing `fragment`), "quarantine"
    (bad rows quarantined with `fragment` in the reason, good rows kept), "duplicate" (parsed rows all ok;
    the inventory quarantines the later copies) or "ok"; `ok` and `quarantined` are the exact row counts."""

    build: Callable[[Path], Path]
    expect: str
    fragment: str = ""
    ok: int = 0
    quarantined: int = 0


def _csv(path: Path, header: str, *rows: bytes, bom: bool = False) -> Path:
    return _write(path, (BOM if bom else b"") + header.encode() + b"\n" + b"".join(r + b"\n" for r in rows))


def _quoted(text: str) -> bytes:
    return b'"' + text.replace('"', '""').encode() + b'"'


def _gzip(path: Path, data: bytes) -> Path:
    return _write(path, gzip.compress(data, mtime=0))


def _truncated_gzip(path: Path) -> Path:
    """Many intact rows, then the compressed stream breaks off: the first rows are readable."""
    data = b"".join(json.dumps({"id": f"t{i}", "text": f"{GOOD} {i}"}).encode() + b"\n" for i in range(5000))
    packed = gzip.compress(data, compresslevel=1, mtime=0)
    return _write(path, packed[: len(packed) * 3 // 4])


def _jsonl_bytes(rows: list[object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


CASES: dict[str, Case] = {
    "empty_file": Case(lambda p: _write(p / "empty.jsonl", b""), "error", "input is empty"),
    "header_only_csv": Case(lambda p: _write(p / "h.csv", b"id,text\n"), "error", "header but no rows"),
    "header_only_parquet": Case(
        lambda p: _parquet(p / "h.parquet", pa.table({"text": pa.array([], pa.string())})),
        "error",
        "header but no rows",
    ),
    "wrong_columns_csv": Case(
        lambda p: _write(p / "w.csv", b"id,body\n1,hello there\n"),
        "error",
        "no 'text' column; columns present: id, body; set input.text_field",
    ),
    "wrong_columns_parquet": Case(
        lambda p: _parquet(p / "w.parquet", pa.table({"body": [GOOD]})),
        "error",
        "no 'text' column; columns present: body; set input.text_field",
    ),
    "headerless_csv": Case(
        lambda p: _csv(p / "nh.csv", "1," + _quoted(GOOD).decode(), b"2," + _quoted(GOOD)),
        "error",
        "the first row does not look like a header",
    ),
    "ambiguous_text_columns": Case(
        lambda p: _csv(p / "a.csv", "Text,TEXT", _quoted(GOOD) + b"," + _quoted(GOOD)),
        "error",
        "2 columns match 'text' when case is ignored ('Text', 'TEXT'); set input.text_field",
    ),
    "unknown_suffix": Case(lambda p: _write(p / "seeds.txt", GOOD.encode()), "error", "set input.format"),
    "no_input_files_dir": Case(lambda p: _write(p / "d" / "seeds.tsv", b"text\tid\n").parent, "error", "found: 1 .tsv"),
    "text_of_numbers": Case(
        lambda p: _parquet(p / "n.parquet", pa.table({"text": [1, 2, 3]})), "quarantine", "not a string", 0, 3
    ),
    "digits_only_csv": Case(
        lambda p: _csv(p / "d.csv", "text", b"12345", _quoted(GOOD)), "quarantine", "no letters", 1, 1
    ),
    "ragged_csv": Case(
        lambda p: _csv(p / "r.csv", "id,text", b"r1," + _quoted(GOOD), b"r2,extra," + _quoted(GOOD)),
        "quarantine",
        "row has 3 fields, header has 2",
        1,
        1,
    ),
    "nulls": Case(
        lambda p: _jsonl(p / "n.jsonl", [{"id": "a", "text": None}, {"id": "b", "text": GOOD}]),
        "quarantine",
        "null",
        1,
        1,
    ),
    "empty_strings": Case(lambda p: _jsonl(p / "e.jsonl", [{"text": ""}, {"text": GOOD}]), "quarantine", "empty", 1, 1),
    "whitespace_only": Case(
        lambda p: _jsonl(p / "w.jsonl", [{"text": " \t\n "}, {"text": GOOD}]), "quarantine", "whitespace", 1, 1
    ),
    "ten_mb_record": Case(
        lambda p: _jsonl(p / "big.jsonl", [{"text": "word " * 2_000_000}, {"text": GOOD}]),
        "quarantine",
        "too long",
        1,
        1,
    ),
    "100k_char_records": Case(
        lambda p: _jsonl(p / "long.jsonl", [{"text": "x" * 100_000}] * 3 + [{"text": GOOD}]),
        "quarantine",
        "too long",
        1,
        3,
    ),
    "invalid_utf8_jsonl": Case(
        lambda p: _write(
            p / "u.jsonl",
            b'{"text": "caf\xe9 ' + CANARY.encode() + b'"}\n' + json.dumps({"text": GOOD}).encode() + b"\n",
        ),
        "quarantine",
        "not valid UTF-8",
        1,
        1,
    ),
    "mixed_encodings_csv": Case(
        lambda p: _write(p / "m.csv", b"text\n" + "na\u00efve caf\u00e9 film".encode() + b"\nna\xefve caf\xe9 film\n"),
        "quarantine",
        "not valid UTF-8",
        1,
        1,
    ),
    "nul_bytes_csv": Case(
        lambda p: _write(p / "z.csv", b"text\nbad\x00row here\ngood row here\n"), "quarantine", "NUL", 1, 1
    ),
    "json_array_non_objects": Case(
        lambda p: _write(p / "a.json", json.dumps([{"text": GOOD}, ["a", "list"], 3]).encode()),
        "quarantine",
        "JSON array item is a",
        1,
        2,
    ),
    "duplicate_ids": Case(
        lambda p: _jsonl(p / "d.jsonl", [{"id": 1, "text": GOOD}, {"id": "1", "text": GOOD + " again"}]),
        "duplicate",
        "duplicate id",
        1,
        1,
    ),
    "mixed_id_types": Case(
        lambda p: _jsonl(
            p / "i.jsonl", [{"id": 7, "text": GOOD}, {"id": "x7", "text": GOOD}, {"id": 7.0, "text": GOOD}]
        ),
        "duplicate",
        "duplicate id",
        2,
        1,
    ),
    "truncated_parquet": Case(lambda p: _truncated_parquet(p / "t.parquet"), "error", "not a readable Parquet file"),
    "unbalanced_quotes_csv": Case(
        lambda p: _write(p / "q.csv", b'text\n"never closed, ' + CANARY.encode() + b"\n"),
        "error",
        "malformed CSV",
    ),
    "broken_json_array": Case(
        lambda p: _write(p / "b.json", b'[{"text": "fine film here"}, {"text": "broken ' + CANARY.encode() + b"}]"),
        "error",
        "malformed JSON",
    ),
    "not_gzip": Case(
        lambda p: _write(p / "n.csv.gz", b"text\nplain text, not gzip\n"), "error", "cannot read the gzip stream"
    ),
    "truncated_gzip": Case(
        lambda p: _truncated_gzip(p / "t.jsonl.gz"),
        "error",
        "cannot read the gzip stream (Truncated compressed stream)",
    ),
    "broken_jsonl_line": Case(
        lambda p: _write(p / "b.jsonl", b'{"text": "ok line here"}\n{"text": "broken ' + CANARY.encode() + b"\n"),
        "quarantine",
        "broken JSON line",
        1,
        1,
    ),
    "mixed_format_dir": Case(lambda p: _mixed_dir(p / "mixed"), "ok", "", 3, 0),
    # files as everyday tools export them
    "excel_bom_csv": Case(
        lambda p: _csv(
            p / "x.csv", "id,text,label", b"b1," + _quoted(GOOD) + b",positive", b"b2,Dull film.,neg", bom=True
        ),
        "ok",
        "",
        2,
        0,
    ),
    "bom_jsonl": Case(lambda p: _write(p / "b.jsonl", BOM + _jsonl_bytes([{"id": "j1", "text": GOOD}])), "ok", "", 1),
    "capitalised_columns_csv": Case(
        lambda p: _csv(p / "c.csv", "ID,Text,Label", b"k1," + _quoted(GOOD) + b",Positive"), "ok", "", 1
    ),
    "gzip_csv": Case(
        lambda p: _gzip(p / "g.csv.gz", b"id,text\ng1," + _quoted(GOOD) + b"\ng2,A second fine film.\n"),
        "ok",
        "",
        2,
    ),
    "gzip_jsonl": Case(
        lambda p: _gzip(p / "g.jsonl.gz", _jsonl_bytes([{"id": f"z{i}", "text": GOOD} for i in range(3)])), "ok", "", 3
    ),
    "json_array": Case(
        lambda p: _write(p / "a.json", json.dumps([{"id": "a1", "text": GOOD}, {"id": "a2", "text": GOOD}]).encode()),
        "ok",
        "",
        2,
    ),
    "json_lines_in_dot_json": Case(
        lambda p: _write(p / "l.json", _jsonl_bytes([{"id": "l1", "text": GOOD}, {"id": "l2", "text": GOOD}])),
        "ok",
        "",
        2,
    ),
    "gzip_json_array": Case(
        lambda p: _gzip(p / "a.json.gz", BOM + json.dumps([{"id": "ga1", "text": GOOD}]).encode()), "ok", "", 1
    ),
    "missing_path": Case(lambda p: p / "does-not-exist.parquet", "error", "does not exist"),
    "symlink_loop": Case(lambda p: _symlink_loop(p / "loop"), "error", "symlink loop"),
}


def build(case: str, root: Path) -> Path:
    return CASES[case].build(root)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad_inputs")
    for name in CASES:
        print(name, build(name, out / name))

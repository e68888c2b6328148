"""Generate the hostile-input corpus (never hand-edited): `python tests/data/make_bad_inputs.py DIR`.

Each case is a file or directory plus what must happen: a one-line error naming the file and
reason ("error"), or rows quarantined with a reason ("quarantine"). Canary strings mark private
text so tests can check it never leaks into errors or logs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CANARY = "CANARY-7f3a9c-private-text"
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


# name -> (builder(path) -> input path, expectation, fragment of the error or quarantine reason)
CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "empty_file": (lambda p: _write(p / "empty.jsonl", b""), "error", "input is empty"),
    "header_only_csv": (lambda p: _write(p / "h.csv", b"id,text\n"), "error", "header but no rows"),
    "header_only_parquet": (
        lambda p: _parquet(p / "h.parquet", pa.table({"text": pa.array([], pa.string())})),
        "error",
        "header but no rows",
    ),
    "wrong_columns_csv": (lambda p: _write(p / "w.csv", b"id,body\n1,hello there\n"), "error", "no 'text' column"),
    "wrong_columns_parquet": (
        lambda p: _parquet(p / "w.parquet", pa.table({"body": [GOOD]})),
        "error",
        "no 'text' column",
    ),
    "text_of_numbers": (
        lambda p: _parquet(p / "n.parquet", pa.table({"text": [1, 2, 3]})),
        "quarantine",
        "not a string",
    ),
    "digits_only_csv": (lambda p: _write(p / "d.csv", b"text\n12345\n"), "quarantine", "no letters"),
    "nulls": (
        lambda p: _jsonl(p / "n.jsonl", [{"id": "a", "text": None}, {"id": "b", "text": GOOD}]),
        "quarantine",
        "null",
    ),
    "empty_strings": (lambda p: _jsonl(p / "e.jsonl", [{"text": ""}, {"text": GOOD}]), "quarantine", "empty"),
    "whitespace_only": (
        lambda p: _jsonl(p / "w.jsonl", [{"text": " \t\n "}, {"text": GOOD}]),
        "quarantine",
        "whitespace",
    ),
    "ten_mb_record": (
        lambda p: _jsonl(p / "big.jsonl", [{"text": "word " * 2_000_000}, {"text": GOOD}]),
        "quarantine",
        "too long",
    ),
    "100k_char_records": (lambda p: _jsonl(p / "long.jsonl", [{"text": "x" * 100_000}] * 3), "quarantine", "too long"),
    "invalid_utf8_jsonl": (
        lambda p: _write(
            p / "u.jsonl",
            b'{"text": "caf\xe9 ' + CANARY.encode() + b'"}\n' + json.dumps({"text": GOOD}).encode() + b"\n",
        ),
        "quarantine",
        "not valid UTF-8",
    ),
    "mixed_encodings_csv": (
        lambda p: _write(p / "m.csv", b"text\n" + "na\u00efve caf\u00e9 film".encode() + b"\nna\xefve caf\xe9 film\n"),
        "quarantine",
        "not valid UTF-8",
    ),
    "nul_bytes_csv": (lambda p: _write(p / "z.csv", b"text\nbad\x00row here\ngood row here\n"), "quarantine", "NUL"),
    "duplicate_ids": (
        lambda p: _jsonl(p / "d.jsonl", [{"id": 1, "text": GOOD}, {"id": "1", "text": GOOD + " again"}]),
        "duplicate",
        "duplicate id",
    ),
    "mixed_id_types": (
        lambda p: _jsonl(
            p / "i.jsonl", [{"id": 7, "text": GOOD}, {"id": "x7", "text": GOOD}, {"id": 7.0, "text": GOOD}]
        ),
        "duplicate",
        "duplicate id",
    ),
    "truncated_parquet": (lambda p: _truncated_parquet(p / "t.parquet"), "error", "not a readable Parquet file"),
    "unbalanced_quotes_csv": (
        lambda p: _write(p / "q.csv", b'text\n"never closed, ' + CANARY.encode() + b"\n"),
        "error",
        "malformed CSV",
    ),
    "broken_jsonl_line": (
        lambda p: _write(p / "b.jsonl", b'{"text": "ok line here"}\n{"text": "broken ' + CANARY.encode() + b"\n"),
        "quarantine",
        "broken JSON line",
    ),
    "mixed_format_dir": (lambda p: _mixed_dir(p / "mixed"), "ok", ""),
    "missing_path": (lambda p: p / "does-not-exist.parquet", "error", "does not exist"),
    "symlink_loop": (lambda p: _symlink_loop(p / "loop"), "error", "symlink loop"),
}


def build(case: str, root: Path) -> Path:
    return CASES[case][0](root)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad_inputs")
    for name in CASES:
        print(name, build(name, out / name))

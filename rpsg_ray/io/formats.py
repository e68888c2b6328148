"""The file kinds the reader accepts and how they are opened.

Suffix → (format, compression); compressed files are decompressed as a stream by pyarrow's codecs
(never whole in memory); text is decoded as UTF-8 with an optional byte-order mark (Excel's
"CSV UTF-8" starts with one), invalid bytes kept as surrogates so the row, not the file, is refused.
A JSON array is walked one element at a time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

import pyarrow as pa

from rpsg_ray.errors import InputError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
ACCEPTED = ".parquet, .jsonl, .json or .csv files (text formats may be compressed: .gz, .bz2, .zst)"
BOM = b"\xef\xbb\xbf"


def kind_of(path: Path) -> tuple[str | None, str | None]:
    """(format or None if not an input file, compression or None). Parquet compresses internally: a
    compressed .parquet is not accepted."""
    suffixes = [s.lower() for s in path.suffixes]
    if not suffixes:
        return None, None
    compression = COMPRESSIONS.get(suffixes[-1])
    inner = suffixes[-2] if compression and len(suffixes) > 1 else None if compression else suffixes[-1]
    fmt = FORMATS.get(inner or "")
    if fmt == "parquet" and compression:
        return None, compression
    return fmt, compression


def open_binary(path: str, compression: str | None) -> BinaryIO:
    """A buffered byte stream of the (decompressed) file. Decompression errors surface as OSError on read."""
    if compression is None:
        return open(path, "rb")
    return io.BufferedReader(pa.input_stream(path, compression=compression), buffer_size=1 << 16)


def open_text(path: str, compression: str | None) -> TextIO:
    """Decoded text, BOM dropped, invalid UTF-8 kept as surrogates, newlines untranslated (csv needs that)."""
    return io.TextIOWrapper(open_binary(path, compression), encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_error(path: str | Path, compression: str | None, e: OSError) -> InputError:
    """One line for a file that fails while being read; zlib's and the OS's reasons hold no record text."""
    what = f"the {compression} stream" if compression else "the file"
    return InputError(f"{path}: cannot read {what} ({e.strerror or e})")


class MalformedJson(ValueError):
    """The JSON array's structure is broken at `position` (characters from the start); `reason` has no text."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} at character {position}")


def iter_json_array(f: TextIO, chunk_chars: int = 1 << 20) -> Iterator[object]:
    """The elements of a top-level JSON array, one at a time; only the element being decoded (and one
    chunk) is held. A value that reaches the end of the buffer is decoded again with more text, since
    it may continue in the next chunk."""
    decoder = json.JSONDecoder()
    buf, pos, base = "", 0, 0

    def more() -> bool:
        nonlocal buf, pos, base
        data = f.read(chunk_chars)
        if not data:
            return False
        base += pos
        buf, pos = buf[pos:] + data, 0
        return True

    def peek() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or not more():
                return buf[pos] if pos < len(buf) else ""

    if peek() != "[":
        raise MalformedJson("not a JSON array (expected '[')", base + pos)
    pos += 1
    if peek() == "]":
        return
    while True:
        peek()
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if more():
                    continue
                raise MalformedJson(e.msg, base + e.pos) from None
            if end < len(buf) or not more():
                break
        pos = end
        yield value
        sep = peek()
        if sep == "]":
            return
        if sep != ",":
            raise MalformedJson("expected ',' or ']' after an array element", base + pos)
        pos += 1

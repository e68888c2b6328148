"""A finished run directory, read: the one place `rpsg evaluate`, `rpsg audit` and `rpsg compare` open a run's
files. Paths come from `RunLayout`, so a file that moves, moves for every reader; a missing required file is a
one-line `InputError` that names it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from rpsg_ray.errors import InputError
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.tables import read_table


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: not found")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({type(e).__name__})") from None


def _private_table(path: Path, columns: Sequence[str] | None, required: Sequence[str]) -> pa.Table | None:
    return read_table(path, columns, required) if path.is_file() else None


@dataclass(frozen=True)
class RunFiles:
    """The files one method wrote. The shareable ones are required; a private one may be missing (a run shared
    without `private/`, or written before the public/private split) and then reads as None."""

    layout: RunLayout

    @classmethod
    def open(cls, root: Path) -> RunFiles:
        if not root.is_dir():
            raise InputError(f"{root}: not a run directory")
        return cls(RunLayout(root))

    def synthetic(self, columns: Sequence[str] | None = None, required: Sequence[str] = ("text",)) -> pa.Table:
        return read_table(self.layout.synthetic, columns, required)

    def public_manifest(self) -> dict[str, Any]:
        return _json(self.layout.manifest)

    def ledger(self) -> dict[str, Any]:
        return _json(self.layout.ledger)

    def private_manifest(self) -> dict[str, Any] | None:
        path = self.layout.private_manifest
        return _json(path) if path.is_file() else None

    def full_manifest(self) -> dict[str, Any]:
        """Private-derived counts (PII redactions, drops) live here: the private manifest, or the one manifest
        of a run written before the split."""
        return self.private_manifest() or self.public_manifest()

    def lineage(self, columns: Sequence[str] | None = None, required: Sequence[str] = ()) -> pa.Table | None:
        return _private_table(self.layout.lineage, columns, required)

    def diagnostics(self, columns: Sequence[str] | None = None, required: Sequence[str] = ()) -> pa.Table | None:
        return _private_table(self.layout.diagnostics, columns, required)

    def public_documents(self) -> dict[str, str]:
        """The raw text of every shareable file besides the rows (the manifest, the ledger), by file name."""
        rows = self.layout.synthetic
        return {p.name: p.read_text(errors="replace") for p in self.layout.public_files() if p != rows and p.is_file()}

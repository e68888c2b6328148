"""Committed Parquet chunks: each write task writes a temp file, then renames it into ``private/parts/``.

A crash never leaves a half file that later counts as done. The chunk name is a hash of the ids it
holds, so a retried write task (same rows) overwrites its own chunk instead of adding a twin. Seed
text and the private text columns the stages declare (candidates, intermediate rewrites) are not
written at all: parts keep ids, statuses, final outputs and metrics only.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from ray.data import Datasink
from ray.data.block import Block


class CommittedParquetSink(Datasink[int]):
    def __init__(self, parts_dir: str, private: Sequence[str]) -> None:
        """`private`: columns never written (the seed's `text` always, besides)."""
        self.parts_dir, self.private = parts_dir, {"text", *private}

    def on_write_start(self, schema: pa.Schema | None = None) -> None:
        Path(self.parts_dir).mkdir(parents=True, exist_ok=True)

    def write(self, blocks: Iterable[Block], ctx: object) -> int:
        tables = [b for b in blocks if b.num_rows]
        if not tables:
            return 0
        table = pa.concat_tables(tables, promote_options="default")
        keep = [c for c in table.column_names if c not in self.private]
        table = table.select(keep)
        if not table.num_rows:
            return 0
        digest = hashlib.blake2b("\n".join(sorted(table.column("id").to_pylist())).encode(), digest_size=12).hexdigest()
        final = Path(self.parts_dir) / f"part-{digest}.parquet"
        tmp = Path(self.parts_dir) / f".tmp-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return table.num_rows

"""Members / non-members: one random split of one private file, so the two sets share a distribution.

The permutation is drawn from a fresh secret that is never written down: nobody (the auditor included)
can tell from an id which side it fell on, and a distribution shift between the sides cannot creep in
through file order (corpora are often sorted by topic).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.errors import ConfigError
from rpsg_ray.io.tables import read_table

MEMBERS, NON_MEMBERS = "members.parquet", "non_members.parquet"


@dataclass(frozen=True)
class SplitResult:
    members: Path
    non_members: Path
    n_members: int
    n_non_members: int


def split_file(source: Path, holdout: float, out_dir: Path, rng: np.random.Generator | None = None) -> SplitResult:
    """Write ``members.parquet`` and ``non_members.parquet`` (a `holdout` fraction) with the source's columns,
    each in the source's order. `rng` is for tests that need one fixed split; the CLI always draws a secret."""
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"--holdout must be between 0 and 1, not {holdout}")
    table = read_table(source)
    n = table.num_rows
    n_out = round(n * holdout)
    if n_out == 0 or n_out == n:
        raise ConfigError(f"{source}: {n} rows cannot be split with holdout {holdout} (one side would be empty)")
    rng = rng or np.random.default_rng(secrets.randbits(128))
    is_non_member = np.zeros(n, dtype=bool)
    is_non_member[rng.permutation(n)[:n_out]] = True
    out_dir.mkdir(parents=True, exist_ok=True)
    members, non_members = out_dir / MEMBERS, out_dir / NON_MEMBERS
    pq.write_table(table.filter(pa.array(~is_non_member)), members)
    pq.write_table(table.filter(pa.array(is_non_member)), non_members)
    return SplitResult(members, non_members, n - n_out, n_out)

"""Members / non-members (and records held back from both, for the in-domain negative control): one random
split of one private file, so the sets share a distribution.

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

MEMBERS, NON_MEMBERS, CONTROL = "members.parquet", "non_members.parquet", "control.parquet"


@dataclass(frozen=True)
class SplitResult:
    members: Path
    non_members: Path
    control: Path | None
    counts: tuple[int, int, int]
    """Rows of members, non-members and control."""


def split_file(
    source: Path, holdout: float, out_dir: Path, control: float = 0.0, rng: np.random.Generator | None = None
) -> SplitResult:
    """Write ``members.parquet``, ``non_members.parquet`` (a `holdout` fraction) and, when `control` > 0,
    ``control.parquet`` (that fraction, in neither set) with the source's columns, each in the source's order.
    `rng` is for tests that need one fixed split; the CLI always draws a secret."""
    if not 0.0 < holdout < 1.0 or not 0.0 <= control < 1.0 - holdout:
        raise ConfigError(f"--holdout {holdout} and --control {control}: each in [0, 1), together under 1")
    table = read_table(source)
    n = table.num_rows
    sizes = (round(n * holdout), round(n * control))
    if min(sizes[0], n - sum(sizes)) == 0 or (control > 0 and sizes[1] == 0):
        raise ConfigError(f"{source}: {n} rows cannot be split with holdout {holdout} and control {control}")
    rng = rng or np.random.default_rng(secrets.randbits(128))
    side = np.zeros(n, dtype=np.int8)  # 0 member, 1 non-member, 2 control
    order = rng.permutation(n)
    side[order[: sizes[0]]] = 1
    side[order[sizes[0] : sum(sizes)]] = 2
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / MEMBERS, out_dir / NON_MEMBERS, out_dir / CONTROL)
    for value, path in enumerate(paths[: 3 if control > 0 else 2]):
        pq.write_table(table.filter(pa.array(side == value)), path)
    counts = (n - sum(sizes), *sizes)
    return SplitResult(paths[0], paths[1], paths[2] if control > 0 else None, counts)

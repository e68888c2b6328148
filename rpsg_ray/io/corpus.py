"""Open the private corpus the same way for every method: read, validate and quarantine each row, take the
inventory (counts, duplicate ids, the keyed seed sample), and the method's ledger for the counted records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ray.data

from rpsg_ray.config import Config
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.inventory import Inventory, MarkRows, only_ok, take_inventory
from rpsg_ray.io.parse import parse_units
from rpsg_ray.io.sources import ReadUnit
from rpsg_ray.privacy.accountant import PrivacyParameterError
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.ledger import Ledger


def read_rows(cfg: Config, units: list[ReadUnit]) -> ray.data.Dataset:
    """Every input row, parsed and validated (a status per row), one read task per planned unit."""
    items = [u.as_item() for u in units]
    return ray.data.from_items(items, override_num_blocks=max(1, len(items))).map_batches(
        parse_units,
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=cfg.runtime.read_num_cpus,
        fn_kwargs={"block_rows": cfg.runtime.block_rows},
    )


@dataclass(frozen=True)
class PrivateCorpus:
    """The input's read units (parsed and validated lazily, in the cluster, never on the driver), their
    inventory and the method's ledger.

    `one_row_per_id` sets aside every row of a duplicated id (mechanisms whose sensitivity assumes one row
    per record: AUG-PE's one vote, DP-SGD's per-example clipping); otherwise the first row of an id stays."""

    cfg: Config
    units: list[ReadUnit]
    inventory: Inventory
    ledger: Ledger
    key: RunKey
    one_row_per_id: bool
    n_records: int
    """The counted valid records (private: only methods whose relation leaves it unprotected publish it)."""

    def records(self) -> ray.data.Dataset:
        """Every valid record, seed sample or not: what the private index, calibration, votes and training read."""
        whole = Inventory(self.inventory.input_rows, self.inventory.valid_unique, self.inventory.duplicates)
        marks = MarkRows(whole, self.key, drop_all_duplicates=self.one_row_per_id)
        parsed = read_rows(self.cfg, self.units)
        return parsed.map_batches(marks, batch_format="pyarrow").map_batches(only_ok, batch_format="pyarrow")

    def marked(self, done: np.ndarray | None, units: list[ReadUnit]) -> ray.data.Dataset:
        """Every input row of `units` with its status: quarantined, outside the seed sample, done by an earlier
        attempt, ok. The marks come from the whole corpus's inventory, whichever units are read."""
        marks = MarkRows(self.inventory, self.key, done, drop_all_duplicates=self.one_row_per_id)
        return read_rows(self.cfg, units).map_batches(marks, batch_format="pyarrow")

    def windows(self, live_rows: int | None) -> list[list[ReadUnit]]:
        """The read units in consecutive groups of about `live_rows` rows bound for the model stages (the seed
        sample's share of the input, spread evenly over the units; a unit is never split), or all in one group.
        By live rows, so a small seed sample of a large corpus is one execution (one load of each model)."""
        inv = self.inventory
        sampled = inv.seeds if inv.seeds is not None else inv.valid_unique
        live = inv.input_rows * min(1.0, sampled / max(inv.valid_unique, 1))
        if not live_rows or live <= live_rows:
            return [self.units]
        step = max(1, int(live_rows * len(self.units) / live))
        return [self.units[i : i + step] for i in range(0, len(self.units), step)]


def open_private_corpus(
    cfg: Config,
    units: list[ReadUnit],
    key: RunKey,
    seeds: int | None,
    one_row_per_id: bool,
    ledger_of: Callable[[Config, int | None, float | None], Ledger],
) -> PrivateCorpus:
    """Take the inventory and the method's ledger (`ledger_of`) for the records it counts."""
    inventory = take_inventory(read_rows(cfg, units), key, seeds)
    n_records = inventory.valid_unique - (len(inventory.duplicates) if one_row_per_id else 0)
    if n_records == 0:
        raise InputError(f"{cfg.input.path}: no valid records ({inventory.input_rows} rows, all quarantined)")
    try:
        ledger = ledger_of(cfg, n_records, None)
    except PrivacyParameterError as e:
        raise ConfigError(str(e)) from None
    return PrivateCorpus(cfg, units, inventory, ledger, key, one_row_per_id, n_records)

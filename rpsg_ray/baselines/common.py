"""What the baselines share: a fresh run directory and key, the private corpus opened the same way for every
method, label-conditioned public prompts, generation through actor pools, and the published file.

Every baseline sets aside all rows of a duplicated id, so one id is one record for its accountant.
"""

from __future__ import annotations

import shutil
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data
from ray.util import ActorPool

from rpsg_ray.config import Config, Domain, Engine, Resources
from rpsg_ray.engines.base import Chat, Sampling
from rpsg_ray.engines.registry import load_generator
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.inventory import MarkRows, only_ok, take_inventory
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.sources import ReadUnit
from rpsg_ray.pipeline import actor_env, read_rows
from rpsg_ray.privacy.accountant import PrivacyParameterError
from rpsg_ray.privacy.keys import RunKey, create_key
from rpsg_ray.privacy.ledger import Ledger, ledger_for


def start_run_dir(layout: RunLayout, overwrite: bool) -> RunKey:
    """An empty run directory with a fresh secret key (baselines do not resume)."""
    if layout.root.exists() and any(layout.root.iterdir()):
        if not overwrite:
            raise InputError(f"{layout.root}: not empty; pass --overwrite or choose another --output")
        shutil.rmtree(layout.root)
    return create_key(layout.key)


def open_private_corpus(cfg: Config, units: list[ReadUnit], key: RunKey) -> tuple[ray.data.Dataset, Ledger]:
    """The valid private records as a Ray Data dataset (every row of a duplicated id set aside), and the ledger
    of the configured method for their count N."""
    parsed = read_rows(cfg, units)
    inventory = take_inventory(parsed, key, None)
    n_records = inventory.valid_unique - len(inventory.duplicates)
    if n_records == 0:
        raise InputError(f"{cfg.input.path}: no valid records")
    try:
        ledger = ledger_for(cfg, cfg.method, n_records)
    except PrivacyParameterError as e:
        raise ConfigError(str(e)) from None
    marks = MarkRows(inventory, key, drop_all_duplicates=True)
    return parsed.map_batches(marks, batch_format="pyarrow").map_batches(only_ok, batch_format="pyarrow"), ledger


def label_chat(domain: Domain, label: str | None) -> Chat:
    """A public, label-conditioned request for one record (no private data in it)."""
    kind = f"{label} {domain.item}" if label else domain.item
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": f"Write a short {kind} of 20 to 40 words. Output only the text."},
    ]


def chat_row(chat: Chat) -> dict[str, str]:
    return {"system": chat[0]["content"], "user": chat[1]["content"]}


class Generate:
    """Rows with `system`, `user` and a `seed` → `text`, `tokens` (one sample per row)."""

    def __init__(self, engine: Engine, sampling: Sampling) -> None:
        self.sampling = sampling
        self.generator = load_generator(engine.spec())

    def __call__(self, batch: pa.Table) -> pa.Table:
        chats = [
            [{"role": "system", "content": s}, {"role": "user", "content": u}]
            for s, u in zip(batch.column("system").to_pylist(), batch.column("user").to_pylist(), strict=True)
        ]
        out = self.generator.generate(chats, self.sampling, batch.column("seed").to_pylist())
        return batch.append_column("text", pa.array([c.texts[0] for c in out])).append_column(
            "tokens", pa.array([c.tokens for c in out], pa.int64())
        )


@ray.remote
class _GeneratorActor:
    def __init__(self, engine: Engine, sampling: Sampling) -> None:
        self.generate = Generate(engine, sampling)

    def run(self, batch: pa.Table) -> pa.Table:
        return self.generate(batch)


class GeneratorPool:
    """Generator actors kept for a whole run, each loading the engine once. Ray Data builds a fresh actor pool
    for every Dataset, so a method that generates in rounds (AUG-PE's T iterations) would reload the model
    every round through it. `generate` returns texts in row order (ActorPool.map keeps submission order)."""

    def __init__(self, engine: Engine, sampling: Sampling, resources: Resources) -> None:
        options = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus or None}
        actor = _GeneratorActor.options(
            **options, runtime_env={"env_vars": actor_env(engine.threads, resources.num_gpus)}
        )
        self.pool = ActorPool([actor.remote(engine, sampling) for _ in range(resources.max_actors)])
        self.batch_size = resources.batch_size

    def generate(self, rows: list[dict[str, Any]]) -> tuple[list[str], int]:
        table = pa.Table.from_pylist(rows)
        batches = [table.slice(i, self.batch_size) for i in range(0, table.num_rows, self.batch_size)]
        out = list(self.pool.map(lambda actor, batch: actor.run.remote(batch), batches))
        texts = [t for b in out for t in b.column("text").to_pylist()]
        return texts, sum(int(pc.sum(b.column("tokens")).as_py() or 0) for b in out)


def write_synthetic(layout: RunLayout, key: RunKey, method: str, texts: list[str], labels: list[str]) -> None:
    """The published file every method writes: keyed random ids, text, label, in keyed-id order."""
    ids = [key.output_id(f"{method}-{i}") for i in range(len(texts))]
    published = pa.table({"synthetic_id": ids, "text": texts, "label": labels}).sort_by("synthetic_id")
    pq.write_table(published, layout.synthetic)

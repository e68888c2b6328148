"""The contract every method meets, so that one run (`pipeline.run`) serves them all.

Start-up, Ray, the private corpus, resume, lineage, the published file, the manifests, the report and the
row-balance check belong to the run. A method says only what is its own: its ledger, whether one id may
bring one row or several, and how it turns the private records into rows to publish, in one of two shapes:

- `PerRecord`: every seed row flows through the method's stage operators; a kept row is published under
  its seed's keyed id, and the private lineage links the two.
- `Release`: the private records are used together (votes, training) before anything is generated; the
  released rows are linked to no record, and the lineage says which records contributed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray.data

from rpsg_ray.config import Config
from rpsg_ray.io.corpus import PrivateCorpus
from rpsg_ray.manifest import MethodRecord
from rpsg_ray.operators import StageOp
from rpsg_ray.privacy.ledger import Ledger

LedgerFn = Callable[[Config, int | None, float | None], Ledger]


@dataclass(frozen=True)
class PerRecord:
    """Stage operators in order over the live seed rows, and what was measured on private records to build them
    (bounds, the index's recall), for the private manifest."""

    ops: list[StageOp]
    thresholds: dict[str, Any] = field(default_factory=dict)

    def record(self) -> MethodRecord:
        return MethodRecord(thresholds=self.thresholds)


@dataclass(frozen=True)
class Release:
    """Generated rows (`id`: a public name such as ``augpe-17``, `text`, `label`, `status`, `stage`, `reason`) and
    the operators they pass before publication (redaction); `details` (calls, timings, training curves), and
    `tokens` and `requests` of generation outside the stream, go to the private manifest."""

    rows: ray.data.Dataset
    ops: list[StageOp]
    details: dict[str, Any]
    tokens: dict[str, int]
    requests: int

    def record(self) -> MethodRecord:
        return MethodRecord(release=self.details, tokens=self.tokens, requests=self.requests)


@dataclass(frozen=True)
class RunContext:
    """What a method's plan may use: the config, the opened corpus (its ledger and secret key), and a private
    folder for checkpoints that a resumed run finds again."""

    cfg: Config
    corpus: PrivateCorpus
    checkpoints: Path


@dataclass(frozen=True)
class Method:
    """One method as the run, the CLI and `rpsg account` see it."""

    name: str
    title: str
    summary: str
    """One line for `rpsg --help`."""
    ledger: LedgerFn
    plan: Callable[[RunContext], PerRecord | Release]
    one_row_per_id: bool = False
    """Set aside every row of a duplicated id (a mechanism whose sensitivity counts one row per record);
    otherwise the first row of an id stays."""
    seed_sample: bool = True
    """Whether `input.seeds` draws a sample of the records to run on (a per-record method)."""

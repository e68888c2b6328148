"""Where a run's files live. The rule a user can remember: share the top level, never ``private/``.

Top level (shareable): ``synthetic.parquet`` (random ids, text, label), ``manifest.json`` (a public
summary), ``ledger.json``. Everything that is derived from a comparison with private records, links
outputs to seeds, or lets a run be resumed (the secret key, committed parts) lives in ``private/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @property
    def synthetic(self) -> Path:
        return self.root / "synthetic.parquet"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.json"

    @property
    def private(self) -> Path:
        return self.root / "private"

    @property
    def state(self) -> Path:
        return self.private / "run.json"

    @property
    def key(self) -> Path:
        return self.private / "run.key"

    @property
    def parts(self) -> Path:
        return self.private / "parts"

    @property
    def released(self) -> Path:
        """Committed parts of the rows a dataset-level method generated (linked to no record)."""
        return self.private / "released"

    @property
    def checkpoints(self) -> Path:
        """What a method keeps between phases (an iteration's population, a trained model): resume reuses it."""
        return self.private / "checkpoints"

    @property
    def lineage(self) -> Path:
        return self.private / "lineage.parquet"

    @property
    def diagnostics(self) -> Path:
        return self.private / "diagnostics.parquet"

    @property
    def quarantine(self) -> Path:
        return self.private / "quarantine.parquet"

    @property
    def private_manifest(self) -> Path:
        return self.private / "manifest.json"

    @property
    def report(self) -> Path:
        """The operator's report (counts per reason, filter histograms, examples): private."""
        return self.private / "report.html"

    def public_files(self) -> list[Path]:
        return [self.synthetic, self.manifest, self.ledger]

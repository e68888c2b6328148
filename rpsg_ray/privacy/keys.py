"""The per-run secret key every privacy-relevant random draw derives from.

DP noise only protects a record while nobody can recompute it: a draw derived from a public seed
(the config, a content hash of the record) can be replayed and subtracted. So each run gets 256 bits
from ``secrets`` on creation, stored only in the run's private directory (mode 0600), and every draw
is a keyed BLAKE2b of (domain, record id, stage, pass). Domains keep DP noise, generation sampling,
the seed sample and output ids independent of one another. A resumed run reloads the same key, so a
re-run record draws the same noise and ε is not spent twice; two fresh runs draw independently.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rpsg_ray.errors import ResumeError

KEY_BYTES = 32

DP_NOISE = "dp-noise"
GENERATION = "generation"
SEED_SAMPLE = "seed-sample"
CALIBRATION_SAMPLE = "calibration-sample"
OUTPUT_ID = "output-id"


@dataclass(frozen=True)
class RunKey:
    """A secret; ``repr`` never shows it, so it cannot leak through logs or tracebacks."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a run key has {KEY_BYTES} bytes")

    def digest(self, domain: str, *parts: object, size: int = 16) -> bytes:
        message = "\x1f".join([domain, *(str(p) for p in parts)]).encode()
        return hashlib.blake2b(message, key=self.secret, digest_size=size).digest()

    def noise_seed(self, record_id: str, stage: str, pass_index: int = 0) -> int:
        """128-bit seed of a DP noise draw (numpy's SeedSequence takes the whole integer)."""
        return int.from_bytes(self.digest(DP_NOISE, record_id, stage, pass_index), "little")

    def sampling_seed(self, record_id: str, stage: str, pass_index: int = 0) -> int:
        """63-bit seed of an LLM sampling request (engines take a signed 64-bit integer)."""
        return int.from_bytes(self.digest(GENERATION, record_id, stage, pass_index, size=8), "little") >> 1

    def rank(self, domain: str, record_id: str) -> int:
        """A 63-bit keyed hash that orders records for a uniform sample (fits Arrow int64)."""
        return int.from_bytes(self.digest(domain, record_id, size=8), "little") >> 1

    def output_id(self, record_id: str) -> str:
        """A published row id: unlinkable to the seed id without the key, stable across finalize retries."""
        return "s" + self.digest(OUTPUT_ID, record_id, size=8).hex()


def new_key() -> RunKey:
    return RunKey(secrets.token_bytes(KEY_BYTES))


def create_key(path: Path) -> RunKey:
    """Write a fresh key readable by the owner only (created 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.secret)
    return key


def load_key(path: Path) -> RunKey:
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        raise ResumeError(f"{path}: the run's secret key is missing; it cannot be resumed (use --overwrite)") from None
    if len(secret) != KEY_BYTES:
        raise ResumeError(f"{path}: not a run key ({len(secret)} bytes); the run cannot be resumed (use --overwrite)")
    return RunKey(secret)

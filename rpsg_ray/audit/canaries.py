"""Canaries: unique secrets planted into copies of private records, then looked for in the output.

Kinds: fake personal data from a seeded Faker (name, phone, e-mail, account id) and the canary that
"The Canary's Echo" (Meeus et al., ICML 2025) found most detectable in synthetic text: an in-distribution
prefix (the host record) followed by a high-perplexity suffix (random words). Each secret is carried by
1, 2, 4 and 8 distinct host records: the pipeline drops duplicate records, so repeating one text would
plant it once. The planted file and ``canaries.json`` hold the secrets: both are private.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rpsg_ray.audit.records import read_table
from rpsg_ray.errors import ConfigError, InputError

KINDS = ("name", "phone", "email", "account", "suffix")
TEMPLATES = {
    "name": "Reviewed by {}.",
    "phone": "Call {} for tickets.",
    "email": "Write to {}.",
    "account": "Member account {}.",
    "suffix": "{}",
}
REPEATS = (1, 2, 4, 8)
SUFFIX_WORDS = 6
PLANTED, CANARIES = "seeds_with_canaries.parquet", "canaries.json"
FUZZY_SHARE, FUZZY_MIN_CHARS = 0.8, 5
CONTEXT_WORDS = 12
"""Words of the host kept before the secret when scoring exposure (the trained LM's window is short)."""


@dataclass(frozen=True)
class Canary:
    canary_id: str
    kind: str
    secret: str
    repeats: int
    copy_ids: list[str]
    host_ids: list[str]
    context: str
    """The end of the first host's text: the in-distribution words the secret follows when ranked."""


def _draw(fake: object, kind: str) -> str:
    if kind == "name":
        return fake.name()
    if kind == "phone":
        return fake.phone_number()
    if kind == "email":
        return fake.email()
    if kind == "account":
        return fake.bothify("ACC-########-??").upper()
    return " ".join(fake.words(SUFFIX_WORDS))


def _generator(seed: int) -> object:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def secret_sentence(kind: str, secret: str) -> str:
    return TEMPLATES[kind].format(secret)


def plant(
    source: Path, out_dir: Path, seed: int, repeats: Sequence[int] = REPEATS, per_setting: int = 1
) -> tuple[Path, Path, list[Canary]]:
    """Write the source rows plus canary copies (``seeds_with_canaries.parquet``) and ``canaries.json``."""
    table = read_table(source)
    for col in ("id", "text"):
        if col not in table.column_names:
            raise InputError(f"{source}: no {col!r} column")
    copies_needed = len(KINDS) * per_setting * sum(repeats)
    if copies_needed > table.num_rows:
        raise ConfigError(f"{source}: {table.num_rows} rows, but {copies_needed} distinct host records are needed")
    fake, rng = _generator(seed), np.random.default_rng(seed)
    hosts = rng.permutation(table.num_rows)[:copies_needed].tolist()
    host_texts = table["text"].to_pylist()
    host_ids = pc.cast(table["id"], pa.string()).to_pylist()
    canaries, rows, new_ids, new_texts, cursor = [], [], [], [], 0
    for kind in KINDS:
        for r in repeats:
            for _ in range(per_setting):
                secret, n = _draw(fake, kind), len(canaries)
                picked = hosts[cursor : cursor + r]
                cursor += r
                copy_ids = [f"canary-{n:03d}-{c}" for c in range(r)]
                sentence = secret_sentence(kind, secret)
                rows += picked
                new_ids += copy_ids
                new_texts += [f"{host_texts[h].rstrip()} {sentence}" for h in picked]
                context = " ".join(host_texts[picked[0]].split()[-CONTEXT_WORDS:])
                canaries.append(
                    Canary(f"canary-{n:03d}", kind, secret, r, copy_ids, [host_ids[h] for h in picked], context)
                )
    copies = table.take(pa.array(rows))
    copies = copies.set_column(copies.column_names.index("id"), "id", pa.array(new_ids, copies.schema.field("id").type))
    copies = copies.set_column(copies.column_names.index("text"), "text", pa.array(new_texts, pa.string()))
    out_dir.mkdir(parents=True, exist_ok=True)
    planted, listing = out_dir / PLANTED, out_dir / CANARIES
    pq.write_table(pa.concat_tables([table.cast(copies.schema), copies]), planted)
    listing.write_text(json.dumps({"seed": seed, "canaries": [asdict(c) for c in canaries]}, indent=1))
    return planted, listing, canaries


def load_canaries(path: Path) -> list[Canary]:
    try:
        return [Canary(**c) for c in json.loads(path.read_text())["canaries"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a canaries.json written by `rpsg audit canaries` ({type(e).__name__})") from None


def _normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def fuzzy_match(secret: str, text: str) -> bool:
    """The longest run the secret shares with the text (letters and digits only, case folded) covers most of
    it (80%): catches a phone number reformatted, an e-mail with its dots dropped, an account id re-spaced."""
    s, t = _normalise(secret), _normalise(text)
    if not s or not t:
        return False
    match = SequenceMatcher(None, s, t, autojunk=False).find_longest_match(0, len(s), 0, len(t))
    return match.size >= max(FUZZY_MIN_CHARS, math.ceil(FUZZY_SHARE * len(s)))


@dataclass(frozen=True)
class CanaryResult:
    canary_id: str
    kind: str
    repeats: int
    copies_used: int
    verbatim_rows: int
    fuzzy_rows: int
    exposure: float | None
    rank: float | None
    alternatives: int


def leak_counts(canary: Canary, synthetic_texts: list[str]) -> tuple[int, int]:
    """Synthetic rows holding the secret verbatim (case folded), and rows holding it fuzzily."""
    secret = canary.secret.lower()
    verbatim = sum(secret in t.lower() for t in synthetic_texts)
    fuzzy = sum(fuzzy_match(canary.secret, t) for t in synthetic_texts)
    return verbatim, fuzzy


def exposure(
    canary: Canary, seed: int, alternatives: int, sum_nll: Callable[[list[str]], np.ndarray]
) -> tuple[float, float]:
    """The Secret Sharer's exposure: log2(|R|) − log2(rank of the true secret among R−1 fresh draws of the same
    kind, all in the canary's context), ranked by the total NLL of the synthetic-trained LM (lower ranks first;
    a tie counts half, so a model that cannot tell the secrets apart gives about one bit, not the maximum)."""
    fake = _generator(seed + 1_000_003 + int(canary.canary_id.rsplit("-", 1)[-1]))
    others = [_draw(fake, canary.kind) for _ in range(alternatives)]
    others = [o for o in others if o != canary.secret]
    texts = [f"{canary.context} {secret_sentence(canary.kind, s)}" for s in [canary.secret, *others]]
    nll = np.asarray(sum_nll(texts))
    rank = 1 + float(np.sum(nll[1:] < nll[0])) + 0.5 * float(np.sum(nll[1:] == nll[0]))
    return math.log2(len(texts)) - math.log2(rank), rank

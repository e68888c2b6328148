"""Canaries: unique secrets planted into copies of private records, then looked for in the output.

Two kinds. A *person*: a fake identity that looks real (audit/identities.py: names from many locales, with
a phone, an e-mail or an account number), written in one of four settings (self-introduction, third
person, possessive, sign-off), the way a first-person post would carry it. A *suffix*: the canary that
"The Canary's Echo" (Meeus et al., ICML 2025) found most detectable in synthetic text, an in-distribution
prefix (the host record) followed by a high-perplexity suffix (random words). Each secret is carried by
1, 2, 4 or 8 distinct host records: the pipeline drops duplicate records, so repeating one text would plant
it once. The planted file and ``canaries.json`` hold the secrets: both are private.

With ``one_run`` set, that many *audit* canaries are added for the one-run empirical ε (audit/one_run.py):
fake people drawn from a fresh secret, each planted once or not at all by its own secret fair coin, so
which of them a run could have seen is unknown to anyone without ``canaries.json``.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rpsg_ray.audit.identities import NAME_CONTEXTS, Identity, draw_identities
from rpsg_ray.audit.pii_recall import survives
from rpsg_ray.errors import ConfigError, InputError
from rpsg_ray.io.tables import read_table

KINDS = ("person", "suffix", "audit")
SETTINGS = ("introduction", "third_person", "possessive", "sign_off")
FIELDS = {"phone": "Call me at {}.", "email": "Write to me at {}.", "account": "My account is {}."}
COUNTS = {1: 100, 2: 10, 4: 10, 8: 10}
"""Person canaries per repetition: 100 planted once, the smallest signal an audit must still see."""
SUFFIXES_PER_REPEAT = 1
SUFFIX_WORDS = 6
PLANTED, CANARIES = "seeds_with_canaries.parquet", "canaries.json"
FUZZY_SHARE, FUZZY_MIN_CHARS = 0.8, 5
CONTEXT_WORDS = 12
"""Words of the host kept before the secret when scoring exposure (the trained LM's window is short)."""
ALTERNATIVES_OFFSET, CONTROL_OFFSET, COIN_OFFSET = 1_000_003, 2_000_003, 3_000_003


@dataclass(frozen=True)
class Canary:
    canary_id: str
    kind: str
    setting: str
    fields: dict[str, str]
    """The planted values: ``name`` and one of phone / email / account for a person, ``suffix`` otherwise."""
    sentence: str
    """What was appended to each host."""
    repeats: int
    copy_ids: list[str]
    host_ids: list[str]
    context: str
    """The end of the first host's text: the in-distribution words the secret follows when ranked."""
    included: bool = True
    """Whether its copies entered the planted file (an audit canary enters by a secret fair coin)."""

    @property
    def secret(self) -> str:
        return self.fields.get("name") or self.fields["suffix"]


def person_sentence(setting: str, template: int, person: Identity, field: str) -> str:
    """The name in its setting, and the field in a sentence of its own (before a sign-off, after the rest)."""
    named = NAME_CONTEXTS[setting][template % len(NAME_CONTEXTS[setting])].format(name=person.name)
    detail = FIELDS[field].format(getattr(person, field))
    return f"{detail}\n{named}" if setting == "sign_off" else f"{named} {detail}"


def _suffix(seed: int, count: int) -> list[str]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return [" ".join(fake.words(SUFFIX_WORDS)) for _ in range(count)]


def _planned(seed: int, counts: dict[int, int]) -> list[tuple[str, int, str, dict[str, str], str]]:
    """(kind, repeats, setting, fields, sentence) for every canary, persons first."""
    people = iter(draw_identities(seed, sum(counts.values())))
    suffixes = iter(_suffix(seed, SUFFIXES_PER_REPEAT * len(counts)))
    plan, n = [], 0
    for repeats, count in counts.items():
        for _ in range(count):
            person, setting, field = next(people), SETTINGS[n % len(SETTINGS)], list(FIELDS)[n % len(FIELDS)]
            sentence = person_sentence(setting, n // len(SETTINGS), person, field)
            plan.append(("person", repeats, setting, {"name": person.name, field: getattr(person, field)}, sentence))
            n += 1
    for repeats in counts:
        for _ in range(SUFFIXES_PER_REPEAT):
            suffix = next(suffixes)
            plan.append(("suffix", repeats, "suffix", {"suffix": suffix}, suffix))
    return plan


def _one_run_plan(count: int) -> tuple[list[tuple[str, int, str, dict[str, str], str]], list[bool]]:
    """`count` audit canaries (one copy each) and their coins, both from a fresh secret that is not a seed a
    reader of the command line could know (it is kept in canaries.json only)."""
    secret = secrets.randbits(62)
    people = draw_identities(secret, count)
    coins = (np.random.default_rng(secret + COIN_OFFSET).random(count) < 0.5).tolist()
    plan = []
    for n, person in enumerate(people):
        setting, field = SETTINGS[n % len(SETTINGS)], list(FIELDS)[n % len(FIELDS)]
        sentence = person_sentence(setting, n // len(SETTINGS), person, field)
        plan.append(("audit", 1, setting, {"name": person.name, field: getattr(person, field)}, sentence))
    return plan, coins


def plant(
    source: Path, out_dir: Path, seed: int, counts: dict[int, int] = COUNTS, one_run: int = 0
) -> tuple[Path, Path, list[Canary]]:
    """Write the source rows plus canary copies (``seeds_with_canaries.parquet``) and ``canaries.json``; an
    audit canary whose coin says out gets a host for its context but no copy."""
    table = read_table(source, required=("id", "text"))
    audit_plan, coins = _one_run_plan(one_run)
    plan = _planned(seed, counts) + audit_plan
    included = [True] * (len(plan) - len(audit_plan)) + coins
    copies_needed = sum(repeats for _, repeats, *_ in plan)
    if copies_needed > table.num_rows:
        raise ConfigError(f"{source}: {table.num_rows} rows, but {copies_needed} distinct host records are needed")
    hosts = np.random.default_rng(seed).permutation(table.num_rows)[:copies_needed].tolist()
    host_texts = table["text"].to_pylist()
    host_ids = pc.cast(table["id"], pa.string()).to_pylist()
    canaries, rows, new_ids, new_texts, cursor = [], [], [], [], 0
    for n, ((kind, repeats, setting, fields, sentence), planted_here) in enumerate(zip(plan, included, strict=True)):
        picked = hosts[cursor : cursor + repeats]
        cursor += repeats
        copy_ids = [f"canary-{n:03d}-{c}" for c in range(repeats)] if planted_here else []
        if planted_here:
            rows += picked
            new_ids += copy_ids
            new_texts += [f"{host_texts[h].rstrip()} {sentence}" for h in picked]
        context = " ".join(host_texts[picked[0]].split()[-CONTEXT_WORDS:])
        hosts_of = [host_ids[h] for h in picked]
        canaries.append(
            Canary(
                f"canary-{n:03d}", kind, setting, fields, sentence, repeats, copy_ids, hosts_of, context, planted_here
            )
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
    setting: str
    repeats: int
    copies_used: int
    verbatim_rows: int
    """Rows holding any planted value as it was (case folded)."""
    full_name_rows: int
    partial_rows: int
    """Rows holding a piece and no whole value: the surname alone, or a value fuzzily (digits re-spaced)."""
    exposure: float | None
    rank: float | None
    alternatives: int
    included: bool = True


def one_run_score(result: CanaryResult) -> float:
    """How strongly the output shows a canary, for the one-run guess: a value written out first (verbatim,
    then the full name, then a piece), the LM's exposure (bits, well under one unit here) to order the rest."""
    leak = 4 * result.verbatim_rows + 2 * result.full_name_rows + result.partial_rows
    return leak + (result.exposure or 0.0) / 100


def _surname(name: str) -> str:
    """The family name: all but the given name, which is one word (audit/identities.py draws it so)."""
    return name.split(" ", 1)[1]


def _partial(fields: dict[str, str], text: str) -> bool:
    """The surname alone, capitalised as planted ("May" the name, not "may" the verb), or a non-name value
    fuzzily (digits re-spaced)."""
    surname = _surname(fields["name"]) if "name" in fields else None
    others = [v for k, v in fields.items() if k != "name"]
    return (surname is not None and survives(surname, text, case=True)) or any(fuzzy_match(v, text) for v in others)


def leak_counts(canary: Canary, synthetic_texts: list[str]) -> tuple[int, int, int]:
    """Rows with a planted value verbatim (case folded, as a whole), rows with the full name, rows with only a
    piece of one."""
    name = canary.fields.get("name")
    verbatim = full = partial = 0
    for text in synthetic_texts:
        whole = any(survives(v, text) for v in canary.fields.values())
        verbatim += whole
        full += name is not None and survives(name, text)
        partial += not whole and _partial(canary.fields, text)
    return verbatim, full, partial


def chance_partials(seed: int, count: int, synthetic_texts: list[str]) -> int:
    """How many of `count` never-planted people, drawn and given one field each the way the canaries are,
    still find a partial match: what partial matches come to by chance (common surnames, digit runs), to read
    the canaries' figure against."""
    matched = 0
    for n, person in enumerate(draw_identities(seed + CONTROL_OFFSET, count)):
        field = list(FIELDS)[n % len(FIELDS)]
        matched += any(_partial({"name": person.name, field: getattr(person, field)}, t) for t in synthetic_texts)
    return matched


def exposure(
    canary: Canary, seed: int, alternatives: int, sum_nll: Callable[[list[str]], np.ndarray]
) -> tuple[float, float]:
    """The Secret Sharer's exposure: log2(|R|) − log2(rank of the true sentence among R−1 with fresh values of the
    same kind, all in the canary's context), ranked by the total NLL of the synthetic-trained LM (lower ranks
    first; a tie counts half, so a model that cannot tell the secrets apart gives about one bit, not the
    maximum)."""
    alt_seed = seed + ALTERNATIVES_OFFSET + int(canary.canary_id.rsplit("-", 1)[-1])
    if canary.kind == "suffix":
        others = [s for s in _suffix(alt_seed, alternatives) if s != canary.sentence]
    else:
        others = [_swapped(canary, p) for p in draw_identities(alt_seed, alternatives)]
    texts = [f"{canary.context} {s}" for s in [canary.sentence, *others]]
    nll = np.asarray(sum_nll(texts))
    rank = 1 + float(np.sum(nll[1:] < nll[0])) + 0.5 * float(np.sum(nll[1:] == nll[0]))
    return math.log2(len(texts)) - math.log2(rank), rank


def rank_uniformity(results: list[CanaryResult]) -> float | None:
    """One p-value for all canaries together (Fisher's method on each rank's one-sided p-value, rank/(A+1)):
    the largest exposure of many canaries is high by chance (with 20 canaries and 199 alternatives, its median
    is about 4.8 bits), while a model that ranks the true secrets low across the board is caught here."""
    ranked = [r for r in results if r.rank is not None and r.included]
    if not ranked:
        return None
    from scipy.stats import chi2

    p = np.array([r.rank / (r.alternatives + 1) for r in ranked])
    return float(chi2.sf(-2 * np.log(p).sum(), 2 * len(p)))


def _swapped(canary: Canary, person: Identity) -> str:
    """The canary's sentence with another person's values in it."""
    sentence = canary.sentence
    for field, value in canary.fields.items():
        sentence = sentence.replace(value, person.name if field == "name" else getattr(person, field))
    return sentence

"""surrogates: the redactor's tags in a published row become realistic stand-ins ("[PERSON_1] was superb" →
"Natalie Pope was superb"), for domains whose real records name people, places and firms, where a row full of
bracket tags reads like no real record. Off by default (`stages.redact.surrogates.enabled`).

Each row draws its stand-ins from Faker (the configured locale), seeded by the secret run key and the row's id,
so no reader of the config can reproduce them, and rows draw independently. Within a row the same numbered tag
([PERSON_1] twice: one person named twice) gets the same stand-in and different tags different ones; the copy
guard's [NAME] and [ID] carry no number and each get their own. Web addresses and phone numbers are drawn where
they reach no one (example domains, 555-01xx numbers), and e-mails are Faker's example.org ones. A stand-in
depends on the key and the row only, never on what the tag replaced, so it tells nothing about the redacted span
beyond its kind (and, within the row, which mentions were the same span). A kind Faker has no stand-in for keeps
its tag, unnumbered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from rpsg_ray.config import SurrogateConfig
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import Stage, StageResult, texts

TAG = re.compile(r"\[([A-Z]+(?:_[A-Z]+)*)(?:_(\d+))?\]")
STAND_INS: dict[str, Callable[[Any], str]] = {
    "PERSON": lambda f: f.name(),
    "NAME": lambda f: f.name(),
    "GPE": lambda f: f.city(),
    "LOC": lambda f: f.city(),
    "ORG": lambda f: f.company(),
    "EMAIL": lambda f: f.email(),  # Faker's safe domains (example.org, ...)
    "PHONE": lambda f: f.numerify("(###) 555-01##"),  # 555-0100 to 0199: reserved for fiction
    "URL": lambda f: f"https://www.{f.safe_domain_name()}/",
    "ID": lambda f: f.bothify("??-#######").upper(),
}
"""Per tag kind, the Faker draw that stands in for it."""


def replace_tags(text: str, faker: Any) -> str:
    """Every tag of a known kind replaced by a draw from `faker` (already seeded for this row); the same
    numbered tag by the same draw."""
    drawn: dict[str, str] = {}

    def stand_in(m: re.Match[str]) -> str:
        kind, number = m.group(1), m.group(2)
        if kind not in STAND_INS:
            return f"[{kind}]"
        if number is not None and m.group(0) in drawn:
            return drawn[m.group(0)]
        new = _unused(kind, faker, set(drawn.values()))
        if number is not None:
            drawn[m.group(0)] = new
        return new

    return TAG.sub(stand_in, text)


def _unused(kind: str, faker: Any, taken: set[str], tries: int = 20) -> str:
    """A draw of `kind` that no other tag of the row got (two people, two names), within `tries` draws."""
    for _ in range(tries):
        if (draw := STAND_INS[kind](faker)) not in taken:
            return draw
    return draw


class Surrogates(Stage):
    name = "surrogates"
    inputs = ("id", "synthetic_text")
    outputs = {"synthetic_text": pa.string()}

    def __init__(self, cfg: SurrogateConfig, key: RunKey) -> None:
        from faker import Faker

        self.faker, self.key = Faker(cfg.locale), key

    def process(self, rows: pa.Table) -> StageResult:
        out = []
        for row_id, text in zip(rows.column("id").to_pylist(), texts(rows, "synthetic_text"), strict=True):
            self.faker.seed_instance(self.key.sampling_seed(row_id, self.name))
            out.append(replace_tags(text, self.faker))
        return StageResult({"synthetic_text": out})

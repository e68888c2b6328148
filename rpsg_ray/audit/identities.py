"""Fake people who look real: names from many cultures with their phones, e-mails and account numbers.

Drawn from Faker's locale lists, which no recognizer of the redactor uses (it finds names by spaCy's
model and by their context, never by a list), so what they measure is not learned from the same source.
Given and family names come from independently drawn locales, as in the failure that motivated this
(a Polish given name with a French surname). Only Latin-script locales: the texts are English, where
names from other scripts appear romanised. The identities are secrets once planted: never log them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

LOCALE_NAMES = (
    "en_US en_GB en_IE en_IN en_NG en_KE pl_PL fr_FR de_DE es_ES es_MX it_IT pt_BR nl_NL tr_TR vi_VN "
    "id_ID sq_AL cs_CZ hu_HU ro_RO sv_SE fi_FI ga_IE hr_HR sk_SK lt_LT lv_LV et_EE az_AZ yo_NG ha_NG ig_NG zu_ZA sw"
)
LOCALES = tuple(LOCALE_NAMES.split())

NAME_CONTEXTS: dict[str, tuple[str, ...]] = {
    "introduction": (
        "My name is {name} and I wanted to share this.",
        "Hello, my name is {name}. I saw it twice.",
        "Call me {name}, everyone does.",
    ),
    "introduction_im": ("Hi, I'm {name}, a long-time reader.", "I am {name} and this is my honest take."),
    "third_person": (
        "My neighbour {name} said it was worth it.",
        "I went with {name} and we both loved it.",
        "According to {name}, the second half drags.",
        "We ran into {name} at the door afterwards.",
    ),
    "possessive": ("It was {name}'s choice for the evening.", "I borrowed {name}'s copy and never gave it back."),
    "sentence_start": ("{name} recommended it to me last week.", "{name} and I argued about the ending."),
    "beside_product": (
        "{name} swears by Lipitor and a Fitbit Charge 6.",
        "I watched it on my iPad while {name} took Ambien.",
    ),
    "sign_off": ("Regards,\n{name}", "Thanks for reading.\n— {name}"),
}
"""Where a name sits in a text, as the recall table and the canaries use them."""


@dataclass(frozen=True)
class Identity:
    given: str
    family: str
    phone: str
    email: str
    account: str
    card: str
    ssn: str

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def draw_identities(seed: int, count: int) -> list[Identity]:
    """`count` identities, the same for the same seed (a test or a benchmark re-draws them; a canary run plants
    them from its own seed and keeps the list private)."""
    from faker import Faker

    rng = np.random.default_rng(seed)
    fakers: dict[str, Faker] = {}

    def faker(locale: str) -> Faker:
        if locale not in fakers:
            fakers[locale] = Faker(locale)
            fakers[locale].seed_instance(int(rng.integers(2**31)))
        return fakers[locale]

    people = []
    while len(people) < count:
        given_from, family_from = (faker(LOCALES[int(i)]) for i in rng.integers(len(LOCALES), size=2))
        given, family = given_from.first_name(), family_from.last_name()
        if " " in given or len(_ascii(family)) < 2:  # one given name; a surname to find on its own
            continue
        domain = family_from.free_email_domain()
        people.append(
            Identity(
                given=given,
                family=family,
                phone=family_from.phone_number(),
                email=f"{_ascii(given)}.{_ascii(family)}{int(rng.integers(10, 99))}@{domain}",
                account=family_from.iban(),
                card=family_from.credit_card_number(),
                ssn=faker("en_US").ssn(),
            )
        )
    return people

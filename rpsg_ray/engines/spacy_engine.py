"""spaCy named-entity recogniser for PII redaction (PERSON, GPE, ...)."""

from __future__ import annotations

from rpsg_ray.engines.base import Entity


class SpacyNer:
    def __init__(self, name: str) -> None:
        import spacy

        self.nlp = spacy.load(name, disable=["lemmatizer", "parser"])

    def entities(self, texts: list[str]) -> list[list[Entity]]:
        return [
            [Entity(e.start_char, e.end_char, e.label_) for e in doc.ents]
            for doc in self.nlp.pipe(texts, batch_size=64)
        ]

"""`rpsg adapt`'s section: fitting the public generator to the domain on public records, before any run."""

from __future__ import annotations

from pydantic import Field

from rpsg_ray.config.sections import Section


class AdaptConfig(Section):
    """Fine-tuning of `rpsg.rewrite.engine.model` on PUBLIC records of the domain (no noise, no ε: no private
    record is read). Each public record becomes the pass-1 rewrite prompt a run would build from it (its
    abstraction by `rpsg.abstract`, its label, its length, drawn examples) with the record as the answer, so the
    model learns to answer that prompt with a record of the domain, in its writer's voice."""

    records: int | None = Field(
        1000,
        ge=1,
        description="Public records turned into training pairs (a uniform sample by the config's seed; each "
        "costs an abstraction); null: all. Training draws about steps × batch_size pairs (each step includes "
        "each pair independently), so with 1,000 pairs about half are ever drawn.",
    )
    steps: int = Field(
        40,
        ge=1,
        description="Optimizer steps (on complaints, 40 steps of 16 took 1,491 s on one thread of a 2-core Xeon).",
    )
    batch_size: int = Field(16, ge=1, description="Public records per step, on average (each drawn independently).")
    learning_rate: float = Field(5e-4, gt=0, description="Adam learning rate.")
    trainable_layers: int = Field(
        4, ge=1, description="Only the linear layers of the last blocks train; the rest keeps the base model's."
    )
    max_length: int = Field(
        768, ge=64, description="Tokens per training example (prompt + record); longer ones lose their tail."
    )
    threads: int = Field(
        2,
        ge=1,
        description="torch threads of the training worker (Ray gives a 1-CPU worker one; training is the "
        "only work while it runs).",
    )

"""DP-SGD's section (DP fine-tuning, then sampling)."""

from __future__ import annotations

from pydantic import Field

from rpsg_ray.config.sections import Engine, Resources, Section


class DpsgdConfig(Section):
    """DP-SGD baseline: DP fine-tuning of a public LLM on the private records (opacus), then sampling from it."""

    epsilon: float | None = Field(
        4.0,
        gt=0,
        description="ε of the fine-tuned model, so of everything sampled from it (add/remove DP, see the "
        "ledger); null: no noise, the ε = ∞ reference.",
    )
    model: str = Field("smollm2-135m-instruct", description="The public model fine-tuned with DP-SGD.")
    engine: Engine = Engine(kind="transformers", dtype="float32")
    samples: int = Field(64, ge=1, description="Synthetic samples generated (split evenly over labels, not data).")
    steps: int = Field(40, ge=1, description="Optimizer steps (each one Poisson-sampled batch).")
    expected_batch_size: int = Field(
        64,
        ge=1,
        description="Poisson sampling rate q = this / privacy.public_records (each step includes each record "
        "independently with probability q).",
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Per-sample clipping norm C.")
    learning_rate: float = Field(5e-4, gt=0, description="Adam learning rate.")
    trainable_layers: int = Field(
        2, ge=1, description="Only the linear layers of the last blocks train (parameter-efficient DP fine-tuning)."
    )
    max_length: int = Field(96, ge=16, description="Tokens per training example (prompt + record), longer cut.")
    temperature: float = Field(1.0, gt=0)
    max_tokens: int = Field(64, ge=8, description="Tokens per generated sample.")
    threads: int | None = Field(None, ge=1, description="torch threads of the training actor.")
    resources: Resources = Resources(batch_size=32)

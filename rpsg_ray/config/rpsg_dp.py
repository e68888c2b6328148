"""RPSG-DP's section: drafts decoded by private prediction, then public post-processing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rpsg_ray.config.sections import Engine, Resources, Section


class LockstepEngine(Engine):
    """The transformers engine: vLLM schedules each request on its own and cannot couple s + 1 of them per step."""

    kind: Literal["transformers"] = Field("transformers", description="transformers (lock-step decoding).")  # type: ignore[assignment]


class RpsgDpConfig(Section):
    """RPSG with a dataset-level guarantee: each draft is decoded token by token from a public LLM's next-token
    logits under several private records at once (clipped and averaged, sampled by the exponential mechanism),
    so the whole released set is (ε, δ)-DP against adding or removing one record."""

    epsilon: float | None = Field(
        4.0,
        gt=0,
        description="ε of the whole released set (add/remove; see the ledger); sets the clip C. null: no clipping "
        "and no claim (the noiseless reference).",
    )
    engine: LockstepEngine = LockstepEngine()
    group_size: int = Field(
        16,
        ge=1,
        description="s: the divisor of each group's summed clipped logits; records are hashed into groups "
        "of s on average (a larger s costs less ε per token and more compute per output).",
    )
    outputs_per_group: int = Field(4, ge=1, description="m: drafts decoded from each group.")
    groups_per_label: int | None = Field(
        None,
        ge=1,
        description="Groups per label; null: privacy.public_records / (s · labels). Public, so the output count "
        "(groups · labels · m) reveals nothing.",
    )
    temperature: float = Field(1.0, gt=0, description="τ of the exponential mechanism (softmax(z̄/τ)).")
    top_k: int = Field(50, ge=1, description="Tokens are drawn among the public prompt's k most likely (free).")
    max_tokens: int = Field(48, ge=4, description="Tokens per draft at most: every one is counted by the ledger.")
    show_examples: bool = Field(
        True,
        description="Show domain.examples_shown of the domain's public examples in every prompt of a group (drawn "
        "per group by the run's secret key). Free in ε: the public row shows them too, so they set the form the "
        "clipped private signal writes in (demo, 256 records, ε = 4: MAUVE 0.36 → 0.74, 27.6 → 17.4 words).",
    )
    stop: list[str] = Field(["\n\n"], description="Strings that end a draft (a public function of its tokens).")
    resources: Resources = Resources(batch_size=1)  # groups per call: m drafts x (s + 1) rows each

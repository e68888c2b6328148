"""RUPTA's section (one-to-one anonymisation with feedback; no DP)."""

from __future__ import annotations

from pydantic import Field

from rpsg_ray.config.sections import Engine, Resources, Section


class RuptaConfig(Section):
    """RUPTA-style anonymisation baseline: rewrite each record, evaluate privacy then utility, retry with feedback."""

    engine: Engine = Engine()
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model of the privacy evaluator.")
    classifier: str = Field(
        "vader",
        description="Sentiment classifier of the utility evaluator (declared domain.labels: the zero-shot scorer "
        "instead).",
    )
    rounds: int = Field(3, ge=1, description="R: rewrite rounds at most per record.")
    max_source_similarity: float = Field(
        0.8,
        gt=-1,
        le=1,
        description="Privacy evaluator: a rewrite closer (cosine) to its source than this is traceable.",
    )
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(96, ge=8)
    resources: Resources = Resources(batch_size=16)

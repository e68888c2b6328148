"""Lock-step decoding for private prediction: one output is decoded from s + 1 prompts at once (the public prompt
and one prompt per private record of its group), every prompt with its own KV cache, and every step's token
chosen from all their logit rows together (privacy/private_prediction.py has the mechanism and its accounting).

Why transformers and not vLLM: vLLM schedules each request on its own and cannot hand one request's next-token
choice to s others at every step. On a GPU this engine batches many groups' rows into one forward pass per step
(rows = groups x (s + 1)); a vLLM plugin coupling requests per step would be the faster route there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rpsg_ray.engines.base import Chat, EngineSpec
from rpsg_ray.engines.chat import prompt_ids
from rpsg_ray.engines.transformers_engine import TransformersGenerator, _cut_at_stop


@dataclass(frozen=True)
class TokenRule:
    """The per-token mechanism: clip C of each record's logit difference to the public row, the public group
    size s that divides the sum, the temperature τ and the public top-k the token is drawn from. clip = inf:
    no clipping (the noiseless reference; no guarantee)."""

    clip: float
    group_size: int
    temperature: float
    top_k: int


@dataclass(frozen=True)
class GroupPrompt:
    """One output to decode: the public chat, one chat per private record of its group (possibly none), and the
    keyed seed of its sampling draws."""

    public: Chat
    private: list[Chat]
    seed: int


@dataclass(frozen=True)
class Draft:
    text: str
    tokens: int
    """Tokens decoded (each one a private mechanism: the run's ledger counts the ceiling)."""


def private_logprobs(public: Any, private: Any, owner: Any, rule: TokenRule) -> Any:
    """log softmax(z̄/τ) over the public top-k (−inf elsewhere), z̄ = z_pub + (1/s)·Σ clip(z_i − z_pub, ±C) over
    each output's own private rows. `public`: [G, V]; `private`: [R, V]; `owner`: [R], the output of each
    private row."""
    import torch

    shift = (private - public[owner]).clamp(-rule.clip, rule.clip)
    mixed = public.clone().index_add_(0, owner, shift, alpha=1.0 / rule.group_size)
    k = min(rule.top_k, public.shape[1])
    allowed = torch.zeros_like(public, dtype=torch.bool).scatter_(1, public.topk(k, dim=1).indices, True)
    return (mixed / rule.temperature).masked_fill(~allowed, -math.inf).log_softmax(dim=1)


def sample(logprobs: Any, generators: list[Any], top_k: int) -> Any:
    """One token per row, drawn from exp(logprobs) (zero outside each row's `top_k` allowed tokens) with that
    row's own generator, by the exponential race argmax(p / E), E ~ Exp(1): an output's tokens depend on its
    keyed seed alone."""
    import torch

    p, allowed = logprobs.exp().topk(min(top_k, logprobs.shape[1]), dim=1)
    noise = torch.stack([torch.empty(p.shape[1]).exponential_(generator=g) for g in generators])
    return allowed.gather(1, (p / noise.to(p.device)).argmax(dim=1, keepdim=True))[:, 0]


class LockstepDecoder(TransformersGenerator):
    """The transformers engine's model and tokenizer, decoding private-prediction outputs."""

    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        super().__init__(model_path, spec)
        eos = self.model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])

    def decode(
        self, outputs: list[GroupPrompt], rule: TokenRule, max_tokens: int, stop: tuple[str, ...]
    ) -> list[Draft]:
        """Decode every output in one batch: rows = each output's public prompt, then its private prompts."""
        torch = self.torch
        budget = self.max_model_len - max_tokens - 1
        rows, public_rows, private_rows, owner = [], [], [], []
        for g, out in enumerate(outputs):
            public_rows.append(len(rows))
            rows.append(prompt_ids(self.tokenizer, out.public, budget))
            for chat in out.private:
                private_rows.append(len(rows))
                owner.append(g)
                rows.append(prompt_ids(self.tokenizer, chat, budget))
        ids, mask = self._left_padded(rows)
        of_row = torch.tensor([g for g, out in enumerate(outputs) for _ in range(1 + len(out.private))])
        pub, priv = torch.tensor(public_rows), torch.tensor(private_rows, dtype=torch.long)
        owners = torch.tensor(owner, dtype=torch.long)
        generators = [torch.Generator().manual_seed(out.seed % 2**63) for out in outputs]
        tokens: list[list[int]] = [[] for _ in outputs]
        done = [False] * len(outputs)
        position = (mask.cumsum(dim=1) - 1).clamp(min=0)
        with torch.no_grad():
            step = self.model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=True)
            for _ in range(max_tokens):
                logits = step.logits[:, -1].float()
                chosen = sample(private_logprobs(logits[pub], logits[priv], owners, rule), generators, rule.top_k)
                for g, token in enumerate(chosen.tolist()):
                    if not done[g]:
                        done[g] = token in self.eos
                        if not done[g]:
                            tokens[g].append(token)
                            done[g] = any(s in self._text(tokens[g]) for s in stop)
                if all(done):
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                position = position[:, -1:] + 1
                step = self.model(
                    input_ids=chosen[of_row][:, None].to(self.device),
                    attention_mask=mask,
                    position_ids=position,
                    past_key_values=step.past_key_values,
                    use_cache=True,
                )
        return [Draft(_cut_at_stop(self._text(t), stop), len(t)) for t in tokens]

    def _text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

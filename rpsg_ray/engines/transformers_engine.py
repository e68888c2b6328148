"""Hugging Face transformers engine: the fallback generator/scorer and the GPU sentiment classifier."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rpsg_ray.engines.base import Chat, Completion, EngineSpec, Prediction, Sampling, prompt_budgets
from rpsg_ray.engines.chat import prompt_ids
from rpsg_ray.engines.hardware import resolve_dtype
from rpsg_ray.engines.torch_threads import on_cpu, set_threads

LOGITS_CHUNK_BYTES = 256 * 2**20
"""float32 logits materialised at once by `nll` (full logits at a GPU batch with a 152k vocabulary are ~80 GB)."""
NLL_BATCH_TOKENS = 16_384
"""Padded tokens per forward pass in `nll`; texts are sorted by length so padding stays small."""


def token_groups(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices sorted by length, cut into groups whose padded size (rows x longest) stays within budget."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (len(current) + 1) * lengths[i] > budget:
            groups.append(current)
            current = []
        current.append(i)
    return [*groups, current] if current else groups


class SeededSampler:
    """A logits processor that samples each row from its own torch.Generator and hands `generate` a one-hot
    row, so greedy decoding takes exactly that token. Row r's tokens then depend on its own seed only,
    never on its batch-mates (transformers' own sampler draws every row from one global stream).

    Sampling is the exponential race argmax(p / E), E ~ Exp(1): a draw from p after temperature, min-p, top-k
    and top-p (vLLM's order), with one noise vector per row and step from that row's generator."""

    def __init__(self, sampling: Sampling, generators: list[Any]) -> None:
        self.sampling, self.generators = sampling, generators

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        s = self.sampling
        logits = scores.float() / s.temperature
        if s.min_p > 0:
            probs = logits.softmax(dim=1)
            logits = logits.masked_fill(probs < s.min_p * probs.max(dim=1, keepdim=True).values, -math.inf)
        if 0 < s.top_k < logits.shape[1]:
            kth = torch.topk(logits, s.top_k, dim=1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, -math.inf)
        if s.top_p < 1.0:
            ordered, order = logits.sort(dim=1, descending=True)
            probs = ordered.softmax(dim=1)
            outside = probs.cumsum(dim=1) - probs > s.top_p  # keep the smallest prefix reaching top_p
            logits = torch.full_like(logits, -math.inf).scatter(1, order, ordered.masked_fill(outside, -math.inf))
        vocab = logits.shape[1]
        noise = torch.stack(
            [torch.empty(vocab, device=logits.device).exponential_(generator=g) for g in self.generators]
        )
        choice = (logits.softmax(dim=1) / noise).argmax(dim=1, keepdim=True)
        return torch.full_like(scores, -math.inf).scatter(1, choice, 0.0)


class TransformersGenerator:
    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        set_threads(spec.threads)
        self.torch = torch
        self.device = "cpu" if on_cpu() else "cuda"
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id
        dtype = getattr(torch, resolve_dtype(spec.dtype, on_gpu=self.device == "cuda"))
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(self.device).eval()
        self.max_model_len = spec.max_model_len
        vocab = self.model.get_output_embeddings().out_features
        self.chunk_tokens = max(1, LOGITS_CHUNK_BYTES // (4 * vocab))
        self.softcap = getattr(self.model.config, "final_logit_softcapping", None)

    def _left_padded(self, rows: list[list[int]]) -> tuple[Any, Any]:
        torch = self.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def generate(
        self, chats: list[Chat], sampling: Sampling, seeds: list[int], max_tokens: list[int] | None = None
    ) -> list[Completion]:
        """Prompts with different budgets go in one `generate` call per budget: HF's `max_new_tokens` is one
        value per call."""
        budgets = prompt_budgets(sampling, len(chats), max_tokens)
        out: list[Completion | None] = [None] * len(chats)
        for budget in sorted(set(budgets)):
            group = [i for i, b in enumerate(budgets) if b == budget]
            done = self._generate(
                [chats[i] for i in group], replace(sampling, max_tokens=budget), [seeds[i] for i in group]
            )
            for i, comp in zip(group, done, strict=True):
                out[i] = comp
        return [comp for comp in out if comp is not None]

    def _generate(self, chats: list[Chat], sampling: Sampling, seeds: list[int]) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList

        torch = self.torch
        budget = self.max_model_len - sampling.max_tokens - 1
        prompts = [prompt_ids(self.tokenizer, chat, budget) for chat in chats]
        # n samples per prompt as n rows (row i*n + j), each with its own generator seeded by (seed_i, j).
        ids, mask = self._left_padded([p for p in prompts for _ in range(sampling.n)])
        config = GenerationConfig(
            max_new_tokens=sampling.max_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=self.model.generation_config.eos_token_id,
            stop_strings=list(sampling.stop) or None,
        )
        generators = [
            torch.Generator(device=self.device).manual_seed((seed * 65_537 + j) % 2**63)  # keyed seeds are 63-bit
            for seed in seeds
            for j in range(sampling.n)
        ]
        config.do_sample = False  # the processor has sampled: greedy takes its one-hot choice
        processors = LogitsProcessorList([SeededSampler(sampling, generators)])
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                generation_config=config,
                logits_processor=processors,
                tokenizer=self.tokenizer,  # stop strings are matched on decoded text
            )
        new = out[:, ids.shape[1] :]
        completions = []
        for i in range(len(chats)):
            rows = new[i * sampling.n : (i + 1) * sampling.n]
            texts = [_cut_at_stop(self.tokenizer.decode(r, skip_special_tokens=True), sampling.stop) for r in rows]
            tokens = int((rows != self.pad_id).sum())
            completions.append(Completion(texts=texts, tokens=tokens))
        return completions

    def nll(self, texts: list[str]) -> list[float]:
        """Shifted, pad-masked token cross-entropy, averaged per text (never per batch).

        Logits are computed from the last hidden states in chunks of `chunk_tokens` positions, so at most
        LOGITS_CHUNK_BYTES of float32 logits exist at once (for models whose logits are the output
        embedding of the last hidden state, optionally soft-capped: Llama, Qwen, Mistral, Gemma)."""
        torch = self.torch
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        encoded = [ids[: self.max_model_len] for ids in encoded]
        totals = torch.zeros(len(texts), dtype=torch.float64)
        counts = torch.tensor([max(len(ids) - 1, 0) for ids in encoded], dtype=torch.float64)
        for group in token_groups([len(ids) for ids in encoded], NLL_BATCH_TOKENS):
            if len(encoded[group[-1]]) >= 2:  # the group's longest text; shorter ones add nothing to the sums
                totals[group] = self._summed_nll([encoded[i] for i in group]).double().cpu()
        return [float(t / c) if c > 0 else math.nan for t, c in zip(totals, counts, strict=True)]

    def _summed_nll(self, rows: list[list[int]]) -> Any:
        """Summed next-token NLL per row of a right-padded micro-batch, logits chunked over positions."""
        torch = self.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = True
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.no_grad():
            hidden = self.model.base_model(input_ids=ids, attention_mask=mask.long(), use_cache=False).last_hidden_state
            scored = mask[:, 1:]  # position t predicts token t+1 where both are real tokens
            states = hidden[:, :-1][scored]
            targets = ids[:, 1:][scored]
            owner = torch.arange(len(rows), device=self.device)[:, None].expand_as(scored)[scored]
            head = self.model.get_output_embeddings()
            sums = torch.zeros(len(rows), dtype=torch.float32, device=self.device)
            for s in range(0, len(targets), self.chunk_tokens):
                logits = head(states[s : s + self.chunk_tokens]).float()
                if self.softcap:
                    logits = torch.tanh(logits / self.softcap) * self.softcap
                losses = torch.nn.functional.cross_entropy(logits, targets[s : s + self.chunk_tokens], reduction="none")
                sums.index_add_(0, owner[s : s + self.chunk_tokens], losses)
        return sums


class TransformersClassifier:
    """A sentiment text-classification model by hub name (e.g. siebert/sentiment-roberta-large-english)."""

    def __init__(self, model_path: str) -> None:
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=model_path, device=-1 if on_cpu() else 0)

    def classify(self, texts: list[str]) -> list[Prediction]:
        results = self.pipe(texts, truncation=True, batch_size=32)
        out = []
        for r in results:
            label = r["label"].lower()
            known = label if label in ("positive", "negative") else "unknown"
            out.append(Prediction(label=known, confidence=float(r["score"])))
        return out


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """generate() stops on a stop string but returns it (vLLM does not): cut it off, as vLLM does."""
    for s in stop:
        text = text.split(s, 1)[0]
    return text.strip()

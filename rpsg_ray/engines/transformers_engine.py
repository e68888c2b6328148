"""Hugging Face transformers engine: the fallback generator/scorer and the GPU sentiment classifier."""

from __future__ import annotations

import math

from rpsg_ray.engines.base import Chat, Completion, EngineSpec, Sampling, Sentiment
from rpsg_ray.engines.torch_threads import on_cpu, set_threads


class TransformersGenerator:
    def __init__(self, model_path: str, spec: EngineSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        set_threads(spec.threads)
        self.torch = torch
        self.device = "cpu" if on_cpu() else "cuda"
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = getattr(torch, spec.dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(self.device).eval()
        self.max_model_len = spec.max_model_len

    def generate(self, chats: list[Chat], sampling: Sampling, seeds: list[int]) -> list[Completion]:
        torch = self.torch
        prompts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
        budget = self.max_model_len - sampling.max_tokens - 1
        enc = self.tokenizer(
            prompts, return_tensors="pt", padding=True, truncation=True, max_length=budget, add_special_tokens=False
        ).to(self.device)
        # One generator seed per batch: a retried batch (same rows) reproduces its samples.
        torch.manual_seed(hash(tuple(seeds)) & 0x7FFFFFFF)
        with torch.no_grad():
            out = self.model.generate(
                **enc,
                do_sample=True,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                max_new_tokens=sampling.max_tokens,
                num_return_sequences=sampling.n,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=list(sampling.stop) or None,
                tokenizer=self.tokenizer,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        completions = []
        for i in range(len(chats)):
            rows = new[i * sampling.n : (i + 1) * sampling.n]
            texts = [_cut_at_stop(self.tokenizer.decode(r, skip_special_tokens=True), sampling.stop) for r in rows]
            tokens = int((rows != self.tokenizer.pad_token_id).sum())
            completions.append(Completion(texts=texts, tokens=tokens))
        return completions

    def nll(self, texts: list[str]) -> list[float]:
        """Shifted, pad-masked token cross-entropy, averaged per text (never per batch)."""
        torch = self.torch
        self.tokenizer.padding_side = "right"
        enc = self.tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_model_len,
            add_special_tokens=False,
        ).to(self.device)
        self.tokenizer.padding_side = "left"
        with torch.no_grad():
            logits = self.model(**enc).logits.float()
        targets = enc["input_ids"][:, 1:]
        mask = enc["attention_mask"][:, 1:].float()
        losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none")
        totals = (losses * mask).sum(dim=1)
        counts = mask.sum(dim=1)
        return [float(t / c) if c > 0 else math.nan for t, c in zip(totals, counts, strict=True)]


class TransformersClassifier:
    """A sentiment text-classification model by hub name (e.g. siebert/sentiment-roberta-large-english)."""

    def __init__(self, model_path: str) -> None:
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=model_path, device=-1 if on_cpu() else 0)

    def classify(self, texts: list[str]) -> list[Sentiment]:
        results = self.pipe(texts, truncation=True, batch_size=32)
        out = []
        for r in results:
            label = r["label"].lower()
            known = label if label in ("positive", "negative") else "unknown"
            out.append(Sentiment(label=known, confidence=float(r["score"])))
        return out


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """generate() stops on a stop string but returns it (vLLM does not): cut it off, as vLLM does."""
    for s in stop:
        text = text.split(s, 1)[0]
    return text.strip()

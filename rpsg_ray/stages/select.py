"""select: pick one abstraction per seed by Gaussian report-noisy-max on fixed-range scores.

score = w_cos·clip(cos(seed, candidate)) + w_agree·agree − w_disagree·(1 − agree). The label is public
(it is published with the row), so agreement is a public shift and only the cosine term carries the
record's content (privacy/mechanisms.py). σ comes from the privacy ledger (calibrated for the configured
ε, δ); noise is a keyed draw from the run's secret key (record id, pass), so a retried task redraws the
same noise and never spends budget twice, and nobody without the key can recompute it. Retry pass: when
the seed is labelled and the released pick disagrees with the label, K−1 fresh samples plus the pass-1
pick compete in a second noisy selection (accounted whenever retry is enabled).

Per row it also records, for the private diagnostics only, what each pass did: which candidate it picked,
whether that was the noiseless argmax, the exact probability of that at this σ, the lead of the best score
over the runner-up and the noiseless scores. Pass 1 runs for every row, so its observed and predicted
best rates compare without bias; the retry's are conditional on reaching it (its noise is independent
of pass 1's). Together they show how much the selection at this ε follows the scores, and let a test
check the released picks against the ledger's σ.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rpsg_ray.config import AbstractConfig, Domain, SelectConfig
from rpsg_ray.engines.base import Chat
from rpsg_ray.engines.registry import load_embedder, load_generator, load_label_classifier
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.mechanisms import noisy_argmax, score, selection_probability
from rpsg_ray.rows import Stage, StageResult, texts
from rpsg_ray.stages.abstract import abstraction_sampling
from rpsg_ray.stages.prompts import fit_abstraction_chat


class Select(Stage):
    name = "select"
    inputs = ("id", "label", "text", "prompt_text", "candidates")
    private = ("abstraction",)
    diagnostics = {
        f"{p}_{c}": f"{p}_{c}" for p in ("select", "retry") for c in ("choice", "argmax", "p_argmax", "gap", "scores")
    } | {"select_pass": "select_pass"}
    summed = (
        "select_agree",
        "select_pass",
        *(f"{p}_{c}" for p in ("select", "retry") for c in ("argmax", "p_argmax", "gap")),
    )
    outputs = {
        "abstraction": pa.string(),
        "select_pass": pa.int8(),
        "select_agree": pa.bool_(),
        "select_cos": pa.float32(),
        "tokens_select": pa.int64(),
        "select_choice": pa.int8(),
        "select_argmax": pa.bool_(),
        "select_p_argmax": pa.float32(),
        "select_gap": pa.float32(),
        "select_scores": pa.list_(pa.float32()),
        "retry_choice": pa.int8(),
        "retry_argmax": pa.bool_(),
        "retry_p_argmax": pa.float32(),
        "retry_gap": pa.float32(),
        "retry_scores": pa.list_(pa.float32()),
    }
    PASS_FIELDS = ("choice", "argmax", "p_argmax", "gap", "scores")

    def __init__(self, cfg: SelectConfig, sigma: float, abstract: AbstractConfig, domain: Domain, key: RunKey) -> None:
        self.cfg, self.sigma, self.abstract, self.domain, self.key = cfg, sigma, abstract, domain, key
        self.embedder = load_embedder(cfg.embedder)
        self.classifier = load_label_classifier(cfg.classifier, domain.labels, domain.label_embedder)
        self.generator = load_generator(abstract.engine.spec()) if cfg.retry and abstract.candidates > 1 else None

    def _score(
        self, seed_vecs: np.ndarray, candidates: list[list[str]], labels: list[str | None]
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Scores, cosines and agreement (1/0) of each seed's candidates; one embed and one classify call
        for the whole batch, so model engines see full batches."""
        flat = [c for row in candidates for c in row]
        vecs = self.embedder.embed(flat)
        agree_all = [s.label for s in self.classifier.classify(flat)]
        out, start, c = [], 0, self.cfg
        for seed_vec, row, label in zip(seed_vecs, candidates, labels, strict=True):
            end = start + len(row)
            cos = vecs[start:end] @ seed_vec
            agree = np.array([lab == label for lab in agree_all[start:end]], dtype=float)
            labelled = label is not None
            scores = score(cos, agree, labelled, c.w_cos, c.w_agree, c.w_disagree, c.cos_min, c.cos_max)
            out.append((scores, cos, agree))
            start = end
        return out

    def _retry_chat(self, seed_text: str) -> Chat:
        """The abstraction prompt, with the seed cut to fit the context exactly as the abstract stage cuts it."""
        return fit_abstraction_chat(self.domain, seed_text, self.abstract)[0]

    def _pick(self, scores: np.ndarray, record_id: str, pass_index: int) -> tuple[int, dict[str, object]]:
        """The noisy pick and what the diagnostics record about it."""
        choice = noisy_argmax(scores, self.sigma, self.key.noise_seed(record_id, self.name, pass_index))
        best = int(np.argmax(scores))
        top = np.sort(scores)[::-1]
        return choice, {
            "choice": choice,
            "argmax": choice == best,
            "p_argmax": selection_probability(scores, self.sigma, best),
            "gap": float(top[0] - top[1]) if len(top) > 1 else 0.0,
            "scores": scores.tolist(),
        }

    def process(self, rows: pa.Table) -> StageResult:
        ids = rows.column("id").to_pylist()
        labels = [self.domain.known_label(lab) for lab in rows.column("label").to_pylist()]
        seed_vecs = self.embedder.embed(texts(rows, "text"))  # private scoring only: nothing goes to a generator
        prompt_texts = texts(rows, "prompt_text")
        picks, passes, agrees, coss, diags, retry_rows = [], [], [], [], [], []
        retry_diags: list[dict[str, object] | None] = [None] * len(ids)
        candidates = rows.column("candidates").to_pylist()
        for r, (scores, cos, agree) in enumerate(self._score(seed_vecs, candidates, labels)):
            choice, diag = self._pick(scores, ids[r], 1)
            picks.append(candidates[r][choice])
            passes.append(1)
            coss.append(float(cos[choice]))
            diags.append(diag)
            labelled = labels[r] is not None
            agrees.append(bool(agree[choice]) if labelled else None)
            if self.generator is not None and labelled and not agree[choice]:
                retry_rows.append(r)
        tokens = [0] * len(ids)
        if retry_rows:
            fresh = self.generator.generate(
                [self._retry_chat(prompt_texts[r]) for r in retry_rows],
                abstraction_sampling(self.abstract, self.abstract.candidates - 1),
                [self.key.sampling_seed(ids[r], self.name, 2) for r in retry_rows],
            )
            second = [[picks[r], *completion.texts] for r, completion in zip(retry_rows, fresh, strict=True)]
            rescored = self._score(seed_vecs[retry_rows], second, [labels[r] for r in retry_rows])
            for r, pool, completion, (scores, cos, agree) in zip(retry_rows, second, fresh, rescored, strict=True):
                choice, retry_diags[r] = self._pick(scores, ids[r], 2)
                picks[r], passes[r], coss[r], agrees[r] = pool[choice], 2, float(cos[choice]), bool(agree[choice])
                tokens[r] = completion.tokens
        columns = {
            "abstraction": picks,
            "select_pass": passes,
            "select_agree": agrees,
            "select_cos": coss,
            "tokens_select": tokens,
        }
        for field in self.PASS_FIELDS:
            columns[f"select_{field}"] = [d[field] for d in diags]
            columns[f"retry_{field}"] = [d[field] if d else None for d in retry_diags]
        return StageResult(columns)

"""RPSG's section: its generation stages, its filters and the ε of its selection."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rpsg_ray.config.sections import Engine, Resources, Section

AbstractionStyle = Literal["summary", "first_person"]
"""What the abstraction prompt asks for (see stages/prompts.py: abstraction_chat)."""


class AbstractConfig(Section):
    engine: Engine = Engine()
    candidates: int = Field(4, ge=1, description="K candidate abstractions per seed (SamplingParams n=K).")
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(64, ge=8, description="Tokens per candidate.")
    prompt_style: AbstractionStyle = Field(
        "summary",
        description="summary: what the record discusses and its main opinion, from outside. first_person: what "
        "happened and what the writer thinks or wants, in the writer's own voice, for first-person records: "
        "rewritten from a summary, 14 of 176 generated complaints read as a case summary about a customer.",
    )
    resources: Resources = Resources(batch_size=16)


class SelectConfig(Section):
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for cos(seed, candidate).")
    classifier: str = Field(
        "vader",
        description="Sentiment classifier for agreement with the seed label (declared domain.labels: the zero-shot "
        "scorer instead).",
    )
    w_cos: float = Field(0.75, description="Weight of the clipped cosine.")
    w_agree: float = Field(0.25, description="Bonus when the candidate's sentiment agrees with the seed's.")
    w_disagree: float = Field(0.15, description="Penalty when it disagrees (labelled seeds only).")
    cos_min: float = Field(0.0, ge=-1, le=1, description="Cosine is clipped to [cos_min, cos_max] (fixed range).")
    cos_max: float = Field(1.0, ge=-1, le=1)
    retry: bool = Field(True, description="Second noisy selection over fresh samples when the pick disagrees.")
    resources: Resources = Resources(batch_size=32)

    @model_validator(mode="after")
    def _range(self) -> SelectConfig:
        if self.cos_max <= self.cos_min:
            raise ValueError("cos_max must be > cos_min")
        return self

    @property
    def selections(self) -> int:
        """Noisy selections composed per record (the retry counts whenever enabled)."""
        return 2 if self.retry else 1


PromptStyle = Literal["chat", "chat_without_system", "document"]
"""How the rewrite asks for a record (see stages/prompts.py: rewrite_chat)."""


class RewriteConfig(Section):
    engine: Engine = Engine()
    prompt_style: PromptStyle = Field(
        "chat",
        description="chat: a system turn, the domain's public examples as earlier answers, then the request. "
        "chat_without_system: the same without the system turn. document: no chat template; the prompt is the "
        "start of a page of such records (the examples as earlier entries) ending on the next one's heading, "
        "with its kind and the abstraction as its topic, for the generator to continue.",
    )
    attempts: int = Field(
        3, ge=1, description="Samples per call; the guard keeps the best by quality detector, then sentiment."
    )
    extra_rounds: int = Field(
        1,
        ge=0,
        description="Further calls of `attempts` samples for rows where no attempt passes both the quality "
        "detector and the sentiment guard (bounded; their tokens are counted).",
    )
    stop: list[str] = Field(
        ["\n\n"], description="Stop sequences: a blank line ends the record (what follows is notes or chatter)."
    )
    tokens_per_word: float = Field(
        1.5, gt=0, description="Token budget per target word when a row's max_tokens is derived from its target."
    )
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.9, gt=0, le=1)
    top_k: int = Field(50, ge=1)
    min_p: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Keep only tokens at least min_p times as likely as the most likely one (after temperature): "
        "a cut that follows the model's confidence, for hotter sampling without its tail. 0: off.",
    )
    length_ratio: float = Field(0.8, gt=0, description="Target words = ratio x seed words (private-derived).")
    length_tolerance: float = Field(0.15, ge=0, lt=1, description="Allowed +- share around the target.")
    min_words: int = Field(20, ge=1, description="Floor on the target length.")
    max_tokens: int = Field(
        160,
        ge=16,
        description="Ceiling per attempt. Each row gets tokens_per_word x its target's high end (+16), and the "
        "target is capped so that prompt and generation fit the engine's context.",
    )
    classifier: str = Field("vader", description="Classifier used by the sentiment guard.")
    resources: Resources = Resources(batch_size=16)


class Calibration(Section):
    sample_size: int = Field(256, ge=8, description="Private records scored before the stream starts.")
    lo_quantile: float = Field(0.0, ge=0, le=1, description="lo = this quantile of the calibration NLLs x lo_scale.")
    hi_quantile: float = Field(1.0, ge=0, le=1, description="hi = this quantile x hi_scale.")
    lo_scale: float = Field(0.5, ge=0, description="Multiplier on the lo quantile (catches repetition loops).")
    hi_scale: float = Field(1.3, ge=0, description="Multiplier on the hi quantile.")


class NllFilterConfig(Section):
    engine: Engine = Engine(kind="transformers", dtype="float32")
    lo: float | None = Field(None, description="Absolute lower NLL bound (nats/token); None: calibrate.")
    hi: float | None = Field(None, description="Absolute upper NLL bound; None: calibrate.")
    calibration: Calibration = Calibration()
    resources: Resources = Resources(batch_size=16)

    @model_validator(mode="after")
    def _bounds(self) -> NllFilterConfig:
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) must be <= hi ({self.hi})")
        return self


class SimilarityIndex(Section):
    """How the private index is searched. `exact` is flat inner product (all pairs, via FAISS); `ivf` and
    `hnsw` are approximate, and every candidate they return within `margin` of the threshold is re-checked
    against the full-precision vectors. A missed neighbour is a privacy leak, so before the stream the
    approximate index is tuned on a seeded probe sample until it finds `min_recall` of the above-threshold
    pairs that exact search finds; the measured recall goes into the manifest."""

    kind: Literal["exact", "ivf", "hnsw"] = Field("exact", description="exact (flat), ivf or hnsw (approximate).")
    storage: Literal["fp32", "fp16", "pq"] = Field(
        "fp16", description="Vector storage of an approximate index: fp32, fp16 (scalar quantiser) or pq."
    )
    nlist: int | None = Field(None, ge=1, description="IVF cells (None: 2·√N, at most N/39).")
    nprobe: int = Field(8, ge=1, description="IVF cells probed at first; doubled until min_recall is met.")
    hnsw_m: int = Field(32, ge=4, description="HNSW links per node.")
    ef_search: int = Field(64, ge=1, description="HNSW search depth at first; doubled until min_recall is met.")
    pq_m: int = Field(48, ge=1, description="PQ sub-quantisers (bytes per vector); must divide the dimension.")
    candidates: int = Field(
        16,
        ge=1,
        description="Neighbours fetched per output; widened while they all lie "
        "within the margin and none is above the threshold.",
    )
    margin: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Candidates scored at or above threshold − margin are "
        "re-checked exactly (covers the storage's quantisation error).",
    )
    shards: int = Field(
        1,
        ge=1,
        description="Split the index over this many chained filter actors (an index too large for one actor's memory).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where search runs; auto: cuda when the stage's resources give it a GPU."
    )
    backend: Literal["auto", "faiss", "torch"] = Field(
        "auto", description="faiss, or torch (exact only); auto: faiss, torch on cuda when faiss has no GPU support."
    )
    recall_sample: int = Field(3000, ge=10, description="Probe queries (seeded) that measure recall before the stream.")
    min_recall: float = Field(
        0.999, gt=0, le=1, description="Recall of above-threshold pairs the index must reach (95% lower bound)."
    )

    @model_validator(mode="after")
    def _torch_is_exact(self) -> SimilarityIndex:
        if self.backend == "torch" and self.kind != "exact":
            raise ValueError("backend torch searches exactly: set kind to exact")
        return self


class SimilarityFilterConfig(Section):
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for outputs and the private index.")
    threshold: float = Field(
        0.9, gt=-1, le=1, description="Drop outputs whose max cosine to any private record exceeds this."
    )
    block_rows: int = Field(65_536, ge=1, description="Private index rows per matmul block (torch search, recall).")
    index: SimilarityIndex = SimilarityIndex()
    resources: Resources = Resources(batch_size=64)


class RpsgConfig(Section):
    """RPSG (this project): per seed, K abstractions, a noisy choice, two guarded rewrites, then the filters."""

    epsilon: float | None = Field(
        4.0,
        gt=0,
        description="ε of the candidate selection only (component-level: it covers which abstraction is released "
        "per record, see the ledger); null: no noise.",
    )
    abstract: AbstractConfig = AbstractConfig()
    select: SelectConfig = SelectConfig()
    rewrite: RewriteConfig = RewriteConfig()
    nll_filter: NllFilterConfig = NllFilterConfig()
    similarity_filter: SimilarityFilterConfig = SimilarityFilterConfig()
    share_generator: bool = Field(
        True,
        description="Where abstract and rewrite name the same engine, run abstract, select and both rewrite "
        "passes in one actor pool (sized by rpsg.rewrite.resources) that loads the model once: one start-up "
        "and one copy in memory instead of four. False: a pool per stage, each sized by its own resources.",
    )

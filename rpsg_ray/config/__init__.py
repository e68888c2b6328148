"""One typed configuration, loaded from YAML, overridable with ``--set key=value``.

Every field has a default and a description; ``rpsg config-reference`` prints them all, and
``docs/CONFIG.md`` is that output. Each method has a section named after it (its ε among its keys, with what
it covers); the shared stages, the privacy section every ledger reads, the input and the runtime sit beside
them. Each stage receives only its own section.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from rpsg_ray.config.adapt import AdaptConfig
from rpsg_ray.config.augpe import AugpeConfig
from rpsg_ray.config.data import Domain, InputConfig
from rpsg_ray.config.dpsgd import DpsgdConfig
from rpsg_ray.config.rpsg import (
    AbstractConfig,
    Calibration,
    NllFilterConfig,
    RewriteConfig,
    RpsgConfig,
    SelectConfig,
    SimilarityFilterConfig,
    SimilarityIndex,
)
from rpsg_ray.config.rpsg_dp import RpsgDpConfig
from rpsg_ray.config.run import PrivacyConfig, RuntimeConfig
from rpsg_ray.config.rupta import RuptaConfig
from rpsg_ray.config.sections import Engine, Resources, Section
from rpsg_ray.config.stages import (
    CopyGuardConfig,
    LabelConfig,
    QualityConfig,
    RedactConfig,
    Stages,
    SurrogateConfig,
)
from rpsg_ray.errors import ConfigError

__all__ = [
    "METHODS",
    "AbstractConfig",
    "AdaptConfig",
    "AugpeConfig",
    "Calibration",
    "Config",
    "CopyGuardConfig",
    "Domain",
    "DpsgdConfig",
    "Engine",
    "InputConfig",
    "LabelConfig",
    "NllFilterConfig",
    "PrivacyConfig",
    "QualityConfig",
    "RedactConfig",
    "Resources",
    "RewriteConfig",
    "RpsgConfig",
    "RpsgDpConfig",
    "RuntimeConfig",
    "RuptaConfig",
    "SelectConfig",
    "SimilarityFilterConfig",
    "SimilarityIndex",
    "Stages",
    "SurrogateConfig",
    "load_config",
    "reference_markdown",
]

Method = Literal["rpsg", "rpsg_dp", "augpe", "dpsgd", "rupta"]
METHODS: tuple[str, ...] = get_args(Method)
"""The methods with a section here (each one's code registers in rpsg_ray/methods/registry.py)."""


class Config(Section):
    method: Method = Field(
        "rpsg",
        description="rpsg (this project), rpsg_dp (its dataset-level DP variant), or a baseline of the paper: augpe, "
        "dpsgd, rupta; its section below.",
    )
    input: InputConfig = InputConfig()
    output_dir: str = Field("runs/latest", description="Run directory (local path or s3://, gs:// URI).")
    domain: Domain = Domain()
    stages: Stages = Stages()
    privacy: PrivacyConfig = PrivacyConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    rpsg: RpsgConfig = RpsgConfig()
    augpe: AugpeConfig = AugpeConfig()
    dpsgd: DpsgdConfig = DpsgdConfig()
    rupta: RuptaConfig = RuptaConfig()
    rpsg_dp: RpsgDpConfig = RpsgDpConfig()
    adapt: AdaptConfig = AdaptConfig()

    @model_validator(mode="after")
    def _one_pool_on_cpu_only(self) -> Config:
        """One pool puts every model in one process; on a GPU node every stage would then load onto the GPU
        beside vLLM's reservation, and `dtype: auto` would resolve for the GPU (other NLLs than a CPU pool's)."""
        gpus = [name for name, s in [*self.stages, *self.rpsg] if getattr(s, "resources", Resources()).num_gpus > 0]
        if self.stages.fuse_all_stages and gpus:
            raise ValueError(f"stages.fuse_all_stages is for CPU nodes; {', '.join(gpus)} reserve GPUs")
        return self

    def digest(self, exclude_runtime: bool = True) -> str:
        """Hash of everything that shapes a run's outputs (runtime knobs, other methods' sections and `adapt`, which
        shapes a model the run names by its path, do not)."""
        others = set(METHODS) - {self.method}
        data = self.model_dump(
            mode="json", exclude={"runtime", "output_dir", "adapt", *others} if exclude_runtime else None
        )
        data.get("rpsg", {}).pop("share_generator", None)  # where stages run, not what they compute
        data["stages"].pop("fuse_light_stages", None)
        data["stages"].pop("fuse_all_stages", None)
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

    def walk(model: type[BaseModel], prefix: str, defaults: BaseModel | None) -> None:
        """`defaults`: the section as its parent builds it (a stage's own Resources, not the class's)."""
        rows = []
        for name, field in model.model_fields.items():
            ann = field.annotation
            key = f"{prefix}{name}"
            default = field.default if defaults is None else getattr(defaults, name)
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, key + ".", default if isinstance(default, BaseModel) else None)
                continue
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

    walk(Config, "", None)
    return "\n".join(lines)

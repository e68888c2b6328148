"""Config loading: defaults, overrides, and one-line errors for bad configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from rpsg_ray.config import Config, load_config, reference_markdown
from rpsg_ray.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_demo_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "demo.yaml")
    assert cfg.input.seeds == 64 and cfg.rpsg.abstract.engine.kind == "vllm"


def test_override_and_digest() -> None:
    a = load_config(ROOT / "configs" / "demo.yaml")
    b = load_config(ROOT / "configs" / "demo.yaml", ["rpsg.epsilon=2"])
    assert b.rpsg.epsilon == 2.0 and a.digest() != b.digest()
    c = load_config(ROOT / "configs" / "demo.yaml", ["runtime.local_num_cpus=4"])
    assert c.digest() == a.digest()  # runtime knobs do not change outputs
    d = load_config(ROOT / "configs" / "demo.yaml", ["rpsg.share_generator=false"])
    assert d.digest() == a.digest()  # nor does where the stages run (a run may resume with the other layout)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("rpsg.abstract.bogus=1", "rpsg.abstract.bogus"),
        ("rpsg.abstract.candidates=many", "candidates"),
        ("rpsg.abstract.resources.batch_size=-3", "batch_size"),
        ("rpsg.abstract.candidates=0", "candidates"),
        ("rpsg.epsilon=0", "epsilon"),
        ("augpe.epsilon=-1", "epsilon"),
        ("privacy.delta=1", "delta"),
        ("privacy.delta=1.5", "delta"),
        ("rpsg.nll_filter.lo=5", None),
        ("domain.personal=true", "organisations_identify"),  # split in two: the error names the new fields
        ("domain.audience=readers", "audience"),
        ("rpsg_dp.engine.kind=vllm", "kind"),  # lock-step decoding needs the transformers engine
        ("rpsg_dp.epsilon=0", "epsilon"),
    ],
)
def test_bad_configs_are_one_line_errors(override: str, fragment: str | None) -> None:
    overrides = [override]
    if override.startswith("rpsg.nll_filter.lo"):
        overrides.append("rpsg.nll_filter.hi=1")
        fragment = "lo"
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs" / "demo.yaml", overrides)
    message = str(err.value)
    assert "\n" not in message and fragment in message


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def leaves(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every settable key of the config models, walked independently of the reference generator."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from leaves(field.annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_reference_documents_every_leaf() -> None:
    doc = (ROOT / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    assert doc == reference_markdown() + "\n", "docs/CONFIG.md is stale: run `make config-reference`"
    rows = [line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")]
    keys = list(leaves(Config))
    assert len(keys) > 100 and sorted(rows) == sorted(keys)  # each leaf exactly once, nothing stale


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg = load_config(path)
    assert isinstance(raw, dict) and cfg.model_fields_set == set(raw)  # nothing in the file was ignored


def test_selections_count_the_retry() -> None:
    assert Config().rpsg.select.selections == 2
    assert load_config(None, ["rpsg.select.retry=false"]).rpsg.select.selections == 1


def test_declared_labels_from_yaml_are_the_strings_the_input_holds(tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text("domain:\n  labels:\n    0: a negative review\n    1: a positive review\n")
    domain = load_config(path).domain
    assert domain.classes == ("0", "1") and domain.knows("1") and not domain.knows(1) and not domain.knows("2")  # type: ignore[arg-type]
    assert domain.label_phrase("0") == "a negative review" and domain.label_phrase(None) == ""
    sentiment = load_config(None).domain
    assert sentiment.classes == ("positive", "negative") and sentiment.label_phrase("unknown") == ""
    with pytest.raises(ConfigError, match="at least two labels"):
        load_config(None, ["domain.labels={0: a review}"])

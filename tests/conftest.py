"""Shared fixtures: one Ray runtime per session (ray.init costs seconds), the demo corpus, offline hub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is end to end (`-m "not e2e"` or `pytest tests/unit` leaves it out)."""
    for item in items:
        if "e2e" in item.path.parent.parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    import ray

    from rpsg_ray.config import RuntimeConfig
    from rpsg_ray.runtime import configure_data, start_ray

    if not ray.is_initialized():
        start_ray(num_cpus=12)
    configure_data(RuntimeConfig(progress=False, object_store_budget_mib=None))
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rpsg_ray.demo_data import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("demo") / "rt.parquet", 300)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised Llama with the packaged SmolLM2 tokenizer: for training plumbing (masking,
    clipping, noise, saving), never for model quality."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rpsg_ray.engines.registry import SMOLLM2, resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(SMOLLM2))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


PUBLIC_MANIFEST_KEYS = {
    "method",
    "config_digest",
    "synthetic_rows",
    "n_private_records",
    "privacy",
    "published_files",
    "not_published",
    "config",
    "packages",
}


def check_run_contract(run_dir: Path, method: str) -> None:
    """What `rpsg evaluate` and `rpsg audit` rely on, the same for every method: the three shareable files
    with one schema, the full manifest and the secret key under private/, and nothing else at the top."""
    top = sorted(p.name for p in run_dir.iterdir())
    assert top == ["ledger.json", "manifest.json", "private", "synthetic.parquet"], top
    published = pq.read_table(run_dir / "synthetic.parquet")
    assert published.column_names == ["synthetic_id", "text", "label"]
    public = json.loads((run_dir / "manifest.json").read_text())
    assert set(public) == PUBLIC_MANIFEST_KEYS and public["method"] == method
    assert public["synthetic_rows"] == published.num_rows
    if method in ("augpe", "dpsgd", "rpsg_dp"):  # add/remove DP: the counted N would tell neighbours apart
        assert public["n_private_records"] is None
    assert public["published_files"] == ["synthetic.parquet", "manifest.json", "ledger.json"]
    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert ledger["method"] == method and public["privacy"]["epsilon"] == ledger["epsilon"]
    full = json.loads((run_dir / "private" / "manifest.json").read_text())
    assert full["method"] == method and full["accounting"]["balanced"]
    assert (run_dir / "private" / "run.key").stat().st_size == 32
    assert json.loads((run_dir / "private" / "run.json").read_text())["status"] == "complete"
    lineage = pq.read_table(run_dir / "private" / "lineage.parquet")  # every input row, whatever the method
    assert lineage.num_rows == full["accounting"]["input_rows_read"]
    linked = lineage.column("synthetic_id").drop_null().to_pylist()
    assert len(linked) == (published.num_rows if method in ("rpsg", "rupta") else 0)  # per-record methods only
    from rpsg_ray.evaluation.datasets import load_run

    pii = load_run(run_dir).pii_counts  # every method redacts its output; `rpsg evaluate` reports the counts
    assert pii is not None and "person" in pii, pii


def chromium_check(report: Path, out: Path) -> tuple[str, str]:
    """Screenshot report.html, and load a copy that records which images decoded; returns (image flags, log)."""
    chromium = shutil.which("chromium")
    assert chromium, "apt-get install -y chromium"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    logging = ["--enable-logging=stderr", "--v=0"]  # console messages arrive on stderr as INFO:CONSOLE lines
    shot = subprocess.run(
        [chromium, *flags, *logging, f"--screenshot={out}", "--window-size=1280,3000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    probe = report.with_name("probe.html")
    checker = (
        "<script>addEventListener('load',()=>{document.body.dataset.images=[...document.images]"
        ".map(i=>i.complete&&i.naturalWidth>0?'1':'0').join('')})</script></body>"
    )
    probe.write_text(report.read_text().replace("</body>", checker))
    dom = subprocess.run(
        [chromium, *flags, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    images = dom.split('data-images="', 1)[1].split('"', 1)[0] if 'data-images="' in dom else ""
    return images, shot.stderr

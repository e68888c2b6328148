"""Each benchmark runs at its smallest size, so the scripts do not rot. Results go to a temp dir;
no figure is asserted (benchmarks never gate CI on times), only that a table and JSON come out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DP = "configs/dataplane.yaml"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("dataplane.py", ["--sizes", "500", "--allpairs-up-to", "500"]),  # the IVF and the exact path, once each
        ("scaleout.py", ["--rows", "300", "--nodes", "1"]),  # the two-node Cluster: tests/e2e/test_multinode.py
        ("engine_ceiling.py", ["--rows", "8", "--batch", "4", "--threads", "1", "--engine", "echo"]),
        ("pii_recall.py", ["--people", "4", "--real", "10"]),
        # stand-in engines, hashing embedder, 2-step LM, one process: generate, evaluate, audit, table and plot;
        # 24 members, as the stand-in RPSG drops a third of its rows as meta-talk (its echoes are prompts) and
        # evaluate needs 6 rows (8 members failed there now and then)
        ("frontier.py", ["--stand-ins", "--methods", "rpsg", "augpe", "--members", "24", "--epsilons", "4"]),
        (
            "rpsg_vs_augpe.py",
            # stand-in engines (configs/dataplane.yaml): the script's plumbing, not its figures
            [
                "--sizes",
                "4",
                "--repeats",
                "1",
                "--augpe",
                "1x1",
                "--no-quality",
                "--corpus-rows",
                "200",
                "--config",
                DP,
            ],
        ),
    ],
)
def test_benchmark_smoke(script: str, args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "RPSG_BENCH_RESULTS": str(tmp_path / "results")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, *_work(script, tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    name = script.removesuffix(".py")
    payload = json.loads((tmp_path / "results" / f"{name}.json").read_text())
    assert payload["rows"] and "verdict" in payload
    assert (tmp_path / "results" / f"{name}.md").read_text().startswith(f"### {name}")
    if name == "frontier":  # every method with its utility, leakage and cost, and the four-panel plot
        assert {r["method"] for r in payload["rows"]} == {"rpsg", "augpe"}
        for row in payload["rows"]:
            assert {"accuracy", "mauve", "best_attack_auc", "family_p", "s_per_retained"} <= set(row), row
        assert (tmp_path / "results" / "frontier.png").stat().st_size > 10_000


def _work(script: str, tmp_path: Path) -> list[str]:
    return (
        ["--work", str(tmp_path / "work")]
        if script in ("dataplane.py", "rpsg_vs_augpe.py", "pii_recall.py", "frontier.py")
        else []
    )

"""The pipeline on a Ray cluster of two worker nodes (ray.cluster_utils.Cluster): both nodes process rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2000


@pytest.mark.e2e
def test_two_worker_nodes_share_the_work(tmp_path: Path) -> None:
    corpus = tmp_path / "seeds.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"m{i}", "text": f"Film {i} is a quiet, clever drama."}) + "\n" for i in range(ROWS))
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "e2e" / "multinode_run.py"), str(corpus), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["balanced"] and report["kept"] > 0
    by_node = report["rows_by_node"]
    assert set(by_node) == set(report["workers"]), report  # rows were processed on both worker nodes, none elsewhere
    assert all(by_node[node] >= 50 for node in report["workers"]), report  # a real share, not a stray batch

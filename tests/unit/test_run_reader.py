"""The one reader of a run directory (`rpsg_ray.io.run_reader`) on the layout every method writes: shareable files
at the top, private-derived ones under private/. What evaluate and audit read goes through it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rpsg_ray.audit.published import read_published
from rpsg_ray.errors import InputError
from rpsg_ray.evaluation.datasets import load_run
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.io.tables import read_table

QUOTED = 'a "quoted" review'


def _run(root: Path) -> RunLayout:
    """A run directory as the methods write it: PII counts are private-derived, so only private/ has them."""
    layout = RunLayout(root)
    layout.private.mkdir(parents=True)
    ids = ["s1", "s2", "s3"]
    pq.write_table(
        pa.table({"synthetic_id": ids, "text": ["x.", "y.", "z."], "label": ["p", "n", "p"]}), layout.synthetic
    )
    layout.manifest.write_text(json.dumps({"method": "rpsg", "note": QUOTED}))
    layout.ledger.write_text(json.dumps({"method": "rpsg", "epsilon": 4.0}))
    counts = {"person": 2, "email": 1, "seed_person": 7}
    layout.private_manifest.write_text(json.dumps({"method": "rpsg", "pii_redactions": counts}))
    pq.write_table(pa.table({"seed_id": ["r1", "r2"], "synthetic_id": ["s2", None]}), layout.lineage)
    return layout


def test_private_derived_counts_are_read_from_private_not_the_public_manifest(tmp_path: Path) -> None:
    layout = _run(tmp_path / "run")
    files = RunFiles.open(layout.root)
    assert "pii_redactions" not in files.public_manifest()
    assert files.full_manifest()["pii_redactions"]["person"] == 2
    assert load_run(layout.root).pii_counts == {"person": 2, "email": 1}  # the output's counts, not the seeds'
    assert files.ledger()["epsilon"] == 4.0
    assert files.lineage(["seed_id"]).column_names == ["seed_id"]
    assert files.diagnostics() is None  # private files may be missing; shareable ones may not
    # the audit's attacker reads the manifest's strings, not its JSON escaping
    assert QUOTED in read_published(files).files["manifest.json"]


def test_a_run_shared_without_private_has_no_private_counts(tmp_path: Path) -> None:
    layout = _run(tmp_path / "run")
    for path in layout.private.iterdir():
        path.unlink()
    files = RunFiles.open(layout.root)
    assert files.private_manifest() is None and files.lineage() is None
    assert load_run(layout.root).pii_counts is None


@pytest.mark.parametrize("missing", ["synthetic", "manifest", "ledger"])
def test_a_missing_shareable_file_is_a_one_line_error_naming_it(tmp_path: Path, missing: str) -> None:
    layout = _run(tmp_path / "run")
    path = getattr(layout, missing)
    path.unlink()
    files = RunFiles.open(layout.root)
    read = {"synthetic": files.synthetic, "manifest": files.public_manifest, "ledger": files.ledger}[missing]
    with pytest.raises(InputError) as error:
        read()
    assert str(error.value) == f"{path}: not found"
    with pytest.raises(InputError, match="not a run directory"):
        RunFiles.open(tmp_path / "nowhere")


def test_one_table_reader_for_every_record_format(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n')
    (tmp_path / "r.csv").write_text("id,text\n1,a\n2,b\n")
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"], "extra": [0, 0]}), tmp_path / "r.parquet")
    for name in ("r.jsonl", "r.csv", "r.parquet"):
        table = read_table(tmp_path / name, ["text", "id"], ["text"])
        assert table.column_names == ["id", "text"] and table["text"].to_pylist() == ["a", "b"]
    with pytest.raises(InputError, match="missing column"):
        read_table(tmp_path / "r.csv", required=["label"])
    (tmp_path / "r.txt").write_text("a")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(tmp_path / "r.txt")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot be read"):
        read_table(tmp_path / "broken.parquet")

"""Hostile input: every case gives a one-line error naming the file, or quarantines rows with a reason.
No private text (the canary) ever appears in an error."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from make_bad_inputs import CANARY, CASES, build

from rpsg_ray.config import InputConfig
from rpsg_ray.errors import InputError
from rpsg_ray.io.parse import parse_unit
from rpsg_ray.io.sources import plan_read_units

INPUT = InputConfig(max_chars=20_000)


def parse_all(path: Path) -> pa.Table:
    cfg = INPUT.model_copy(update={"path": str(path)})
    return pa.concat_tables([parse_unit(u.as_item()) for u in plan_read_units(cfg)])


@pytest.mark.parametrize("case", [c for c, (_, kind, _) in CASES.items() if kind == "error"])
def test_file_level_errors(case: str, tmp_path: Path) -> None:
    path = build(case, tmp_path)
    _, _, fragment = CASES[case]
    with pytest.raises(InputError) as err:
        parse_all(path)
    message = str(err.value)
    assert fragment in message and "\n" not in message and CANARY not in message
    assert str(path.name) in message or str(path.parent.name) in message


@pytest.mark.parametrize("case", [c for c, (_, kind, _) in CASES.items() if kind == "quarantine"])
def test_row_level_quarantine(case: str, tmp_path: Path) -> None:
    table = parse_all(build(case, tmp_path))
    rows = table.to_pylist()
    bad = [r for r in rows if r["status"] == "quarantined"]
    assert bad, "nothing was quarantined"
    assert all(CASES[case][2] in r["reason"] for r in bad)
    assert all(r["text"] is None and r["source"] for r in bad)  # no private text carried, a location given
    assert all(CANARY not in r["reason"] for r in bad)


def test_mixed_format_directory_reads_every_file(tmp_path: Path) -> None:
    table = parse_all(build("mixed_format_dir", tmp_path))
    assert sorted(table.column("id").to_pylist()) == ["c1", "j1", "p1"]
    assert set(table.column("status").to_pylist()) == {"ok"}


def test_missing_ids_become_content_ids(tmp_path: Path) -> None:
    table = parse_all(build("empty_strings", tmp_path))
    ok = [r for r in table.to_pylist() if r["status"] == "ok"]
    assert ok[0]["id"].startswith("c") and len(ok[0]["id"]) == 17


def test_jsonl_split_into_byte_ranges_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "r{i}", "text": "review number {i} is fine"}}\n' for i in range(5000)))
    cfg = InputConfig(path=str(path), jsonl_chunk_mb=1).model_copy(update={"jsonl_chunk_mb": 1})
    units = plan_read_units(cfg)
    # force small ranges: rebuild units with 10 kB spans to cross many line boundaries
    size = path.stat().st_size
    items = [dict(units[0].as_item(), start=s, end=min(s + 10_000, size)) for s in range(0, size, 10_000)]
    ids = [i for item in items for i in parse_unit(item).column("id").to_pylist()]
    assert len(items) > 10 and ids == [f"r{i}" for i in range(5000)]

"""Input as users have it, and hostile input: every case gives a one-line error naming the file, what was
found and what to set, or quarantines exactly the bad rows while the good rows of the same file survive.
No private text (the canary) ever appears in an error."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from make_bad_inputs import CANARY, CASES, GOOD, build

from rpsg_ray.config import InputConfig
from rpsg_ray.errors import InputError
from rpsg_ray.io.formats import MalformedJson, iter_json_array
from rpsg_ray.io.parse import parse_units
from rpsg_ray.io.sources import plan_read_units


def units_of(path: Path, labels: tuple[str, ...] = (), **settings: object) -> pa.Table:
    cfg = InputConfig.model_validate({"path": str(path), **settings})
    return pa.Table.from_pylist([u.as_item() for u in plan_read_units(cfg, labels)])


def parse_all(path: Path, labels: tuple[str, ...] = (), **settings: object) -> pa.Table:
    return pa.concat_tables(parse_units(units_of(path, labels, **settings)))


def counts(table: pa.Table) -> tuple[int, int]:
    status = table.column("status").to_pylist()
    return status.count("ok"), status.count("quarantined")


def refusal(path: Path, **settings: object) -> str:
    with pytest.raises(InputError) as err:
        parse_all(path, **settings)
    message = str(err.value)
    assert "\n" not in message and CANARY not in message
    assert path.name in message or path.parent.name in message
    return message


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if spec.expect == "error"])
def test_file_level_errors(case: str, tmp_path: Path) -> None:
    assert CASES[case].fragment in refusal(build(case, tmp_path))


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if spec.expect == "quarantine"])
def test_bad_rows_quarantined_good_rows_kept(case: str, tmp_path: Path) -> None:
    spec = CASES[case]
    rows = parse_all(build(case, tmp_path)).to_pylist()
    assert counts(pa.Table.from_pylist(rows)) == (spec.ok, spec.quarantined)
    bad = [r for r in rows if r["status"] == "quarantined"]
    assert all(spec.fragment in r["reason"] and CANARY not in r["reason"] for r in bad)
    assert all(r["text"] is None and r["source"] for r in bad)  # no private text carried, a location given
    kept = [r["text"] for r in rows if r["status"] == "ok"]
    assert all(t and t.strip() for t in kept)


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if spec.expect == "ok"])
def test_everyday_exports_read_in_full(case: str, tmp_path: Path) -> None:
    spec = CASES[case]
    table = parse_all(build(case, tmp_path))
    assert counts(table) == (spec.ok, 0)
    assert not any(i.startswith("c") and len(i) == 17 for i in table.column("id").to_pylist())  # ids were found


def test_bom_csv_header_and_labels(tmp_path: Path) -> None:
    rows = parse_all(build("excel_bom_csv", tmp_path)).to_pylist()
    assert [(r["id"], r["label"], r["text"]) for r in rows] == [
        ("b1", "positive", GOOD),
        ("b2", "negative", "Dull film."),
    ]


def test_columns_matched_ignoring_case(tmp_path: Path) -> None:
    rows = parse_all(build("capitalised_columns_csv", tmp_path)).to_pylist()
    assert [(r["id"], r["label"], r["text"]) for r in rows] == [("k1", "positive", GOOD)]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "json", "parquet"])
def test_configured_column_names(suffix: str, tmp_path: Path) -> None:
    records = [{"review_id": "r1", "review": GOOD, "sentiment": "pos"}, {"review_id": "r2", "review": "Flat, dull."}]
    path = tmp_path / f"reviews.{suffix}"
    if suffix == "csv":
        path.write_text('review_id,review,sentiment\nr1,"' + GOOD + '",pos\nr2,"Flat, dull.",\n')
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif suffix == "json":
        path.write_text(json.dumps(records))
    else:
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    assert "set input.text_field" in refusal(path)
    rows = parse_all(path, text_field="review", id_field="review_id", label_field="sentiment").to_pylist()
    assert [(r["id"], r["text"], r["label"]) for r in rows] == [("r1", GOOD, "positive"), ("r2", "Flat, dull.", None)]


def test_explicit_optional_column_must_exist(tmp_path: Path) -> None:
    path = build("gzip_csv", tmp_path)
    message = refusal(path, id_field="review_id")
    assert "no 'review_id' column; columns present: id, text; set input.id_field" in message
    assert counts(parse_all(path)) == (2, 0)  # left at its default, a missing id column is fine


def test_headerless_csv_shows_no_record_text(tmp_path: Path) -> None:
    message = refusal(build("headerless_csv", tmp_path))
    assert "moving" not in message and "is the header row missing?" in message


def test_compressed_input_is_parsed_as_a_stream(tmp_path: Path) -> None:
    """The first block of a gzip file comes out before the broken end of the stream is reached: the
    file is decompressed as it is parsed, not read whole first."""
    units = units_of(build("truncated_gzip", tmp_path))
    blocks = parse_units(units, block_rows=100)
    first = next(blocks)
    assert first.num_rows == 100 and counts(first) == (100, 0)
    with pytest.raises(InputError, match="cannot read the gzip stream"):
        list(blocks)


def test_large_gzip_jsonl_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"".join(b'{"id": "g%d", "text": "film %d is fine"}\n' % (i, i) for i in range(2500)))
    )
    blocks = list(parse_units(units_of(path), block_rows=1000))
    assert [b.num_rows for b in blocks] == [1000, 1000, 500]
    assert pa.concat_tables(blocks).column("id").to_pylist() == [f"g{i}" for i in range(2500)]


def test_json_array_walker_across_chunk_boundaries() -> None:
    items = [{"id": i, "text": f'say "hi" ]}}, [{i}', "n": 12345.678 * i, "nested": [[], {}]} for i in range(50)]
    text = " [ \n" + " ,\n ".join(json.dumps(x) for x in items) + "\n] \n"
    for chunk in (1, 7, 64, 1 << 20):
        assert list(iter_json_array(io.StringIO(text), chunk)) == items
    assert list(iter_json_array(io.StringIO("[1, 23456]"), 2)) == [1, 23456]  # a number cut by a chunk edge
    assert list(iter_json_array(io.StringIO(" [ ] "), 1)) == []
    for broken in ('{"text": "an object"}', "[1, 2", '[{"a": 1} {"b": 2}]', "[1,]"):
        with pytest.raises(MalformedJson):
            list(iter_json_array(io.StringIO(broken), 3))


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if spec.expect == "duplicate"])
def test_duplicate_ids_first_occurrence_wins(case: str, tmp_path: Path, ray_session: None) -> None:
    """Ids are normalised (1, "1" and 1.0 are one id); the inventory keeps the first and quarantines the rest."""
    import ray.data

    from rpsg_ray.io.inventory import MarkRows, take_inventory
    from rpsg_ray.privacy.keys import new_key

    spec = CASES[case]
    parsed = parse_all(build(case, tmp_path))
    assert counts(parsed) == (spec.ok + spec.quarantined, 0)
    key = new_key()
    inventory = take_inventory(ray.data.from_arrow(parsed), key, seeds=None)
    marked = MarkRows(inventory, key)(parsed).to_pylist()
    assert counts(pa.Table.from_pylist(marked)) == (spec.ok, spec.quarantined)
    assert inventory.valid_unique == spec.ok
    first = {}
    for row in marked:
        first.setdefault(row["id"], row)
    assert all(r["status"] == "ok" for r in first.values())  # the first occurrence of every id is kept
    # the baselines' accounting (one vote / one example per id) sets aside every row of a duplicated id
    strict = MarkRows(inventory, key, drop_all_duplicates=True)(parsed).to_pylist()
    assert inventory.duplicates and all(r["status"] == "quarantined" for r in strict if r["id"] in inventory.duplicates)
    assert all(r["status"] == "ok" for r in strict if r["id"] not in inventory.duplicates)
    assert all(spec.fragment in r["reason"] for r in marked if r["status"] == "quarantined")


def test_jsonl_split_into_byte_ranges_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "r{i}", "text": "review number {i} is fine"}}\n' for i in range(5000)))
    item = units_of(path).to_pylist()[0]
    size = path.stat().st_size
    # small ranges cross many line boundaries
    spans = pa.Table.from_pylist([dict(item, start=s, end=min(s + 10_000, size)) for s in range(0, size, 10_000)])
    ids = [i for t in parse_units(spans) for i in t.column("id").to_pylist()]
    assert spans.num_rows > 10 and ids == [f"r{i}" for i in range(5000)]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_declared_labels_are_kept_as_written_and_others_quarantined(suffix: str, tmp_path: Path) -> None:
    """0/1 labels kept as "0"/"1" (1.0 from a float column too); a value outside the set and a missing one are
    quarantined with a reason that does not repeat the value; without a declared set, 0/1 are not silently
    replaced by a classifier's guess either."""
    records = [
        {"id": "a", "text": GOOD, "label": 0},
        {"id": "b", "text": "Dull film.", "label": 1},
        {"id": "c", "text": "A third film.", "label": 7},
        {"id": "d", "text": "A fourth film.", "label": None},
    ]
    path = tmp_path / f"labels.{suffix}"
    if suffix == "csv":
        path.write_text(f'id,text,label\na,"{GOOD}",0\nb,Dull film.,1.0\nc,A third film.,7\nd,A fourth film.,\n')
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    rows = {r["id"]: r for r in parse_all(path, ("0", "1")).to_pylist()}
    assert (rows["a"]["label"], rows["b"]["label"]) == ("0", "1")
    assert rows["c"]["status"] == rows["d"]["status"] == "quarantined"
    assert rows["c"]["reason"] == "label is not one of domain.labels" and "7" not in rows["c"]["reason"]
    assert rows["d"]["reason"].startswith("label is missing")
    undeclared = {r["id"]: r for r in parse_all(path).to_pylist()}
    assert [undeclared[i]["status"] for i in "abcd"] == ["quarantined"] * 3 + ["ok"]  # d: the classifier's
    assert "declare domain.labels" in undeclared["a"]["reason"]

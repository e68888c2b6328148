"""No identifier from a seed reaches a prompt or the published text: the scrub before every prompt, the copy
guard after redaction, and the sink that never writes a seed's text (scrubbed or not) to the run's parts.

The failure this guards against, from a first-person run: the seed said "My name is <uncommon name>, call me
at (555) ...", spaCy's small model did not tag the name, and the rewrite copied it into the published row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rpsg_ray.config import AbstractConfig, CopyGuardConfig, Domain, RedactConfig, SelectConfig
from rpsg_ray.engines.base import Completion, Prediction
from rpsg_ray.io.sink import CommittedParquetSink
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.rows import ROW_SCHEMA
from rpsg_ray.stages import abstract, select
from rpsg_ray.stages.copy_guard import CopyGuard, guard
from rpsg_ray.stages.scrub import Scrub

SEED = "My name is Zofia Dubois-Kowalczyk, call me at +1 555 013 4567 or zofia.dk@example.com. John Smith was kind."
SECRETS = ("Zofia Dubois-Kowalczyk", "555 013 4567", "zofia.dk@example.com", "John Smith")


def rows(seed: str = SEED) -> pa.Table:
    row = {"id": "r1", "text": seed, "label": "positive", "source": "t", "pos": 0, "status": "ok"}
    return pa.Table.from_pylist([row], schema=ROW_SCHEMA)


class Recorder:
    """STAND-IN generator: records every prompt it is shown and answers with fixed text."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, chats, sampling, seeds, max_tokens=None) -> list[Completion]:
        self.prompts += [m["content"] for chat in chats for m in chat]
        return [Completion(texts=["a kind doctor, a calm visit"] * sampling.n, tokens=1) for _ in chats]


class Disagree:
    """STAND-IN classifier: every candidate disagrees with the seed, so the retry prompt is built too."""

    def classify(self, texts: list[str]) -> list[Prediction]:
        return [Prediction("negative", 1.0) for _ in texts]


def test_scrub_replaces_what_the_redactor_finds_and_counts_it() -> None:
    out = Scrub(RedactConfig(), Domain(organisations_identify=True))(rows()).to_pylist()[0]
    assert "[EMAIL]" in out["prompt_text"] and "[PHONE]" in out["prompt_text"]
    assert "John Smith" not in out["prompt_text"] and out["pii_seed_person"] >= 1
    assert out["pii_seed_email"] == 1 and out["pii_seed_phone"] == 1
    assert out["text"] == SEED  # the seed stays for private scoring only


def test_no_prompt_carries_what_the_scrub_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrub → abstract → select (its retry builds a second abstraction prompt): the generator sees neither the
    e-mail, the phone nor the name spaCy finds. Reading `text` instead of `prompt_text` in either stage fails."""
    recorder = Recorder()
    monkeypatch.setattr(abstract, "load_generator", lambda spec: recorder)
    monkeypatch.setattr(select, "load_generator", lambda spec: recorder)
    monkeypatch.setattr(select, "load_label_classifier", lambda *a: Disagree())
    monkeypatch.setattr(select, "load_embedder", lambda name: _Ones())
    scrubbed = Scrub(RedactConfig(), Domain(organisations_identify=True))(rows())
    candidates = abstract.Abstract(AbstractConfig(candidates=2), Domain(), new_key())(scrubbed)
    picked = select.Select(SelectConfig(retry=True), 1.0, AbstractConfig(candidates=2), Domain(), new_key())(candidates)
    assert picked.column("select_pass").to_pylist() == [2] and len(recorder.prompts) >= 4
    for secret in ("555 013 4567", "zofia.dk@example.com", "John Smith"):
        assert not any(secret in p for p in recorder.prompts), secret


class _Ones:
    def embed(self, texts: list[str]):
        import numpy as np

        return np.ones((len(texts), 4), np.float32) / 2


def test_copy_guard_repairs_the_reported_leak() -> None:
    """The reported failure: the NER misses an uncommon name, the output copies it from its own seed."""
    seed = "My name is Zofia Dubois, call me at (555) 013-4567. The staff were kind."
    output = "With your Zofia Dubois's treatment, it has indeed brought a positive light into our care."
    table = rows(seed).append_column("synthetic_text", pa.array([output]))
    out = CopyGuard(CopyGuardConfig(), Domain())(table).to_pylist()[0]
    assert "Zofia" not in out["synthetic_text"] and "Dubois" not in out["synthetic_text"]
    assert out["synthetic_text"].startswith("With your [NAME]'s treatment") and out["pii_copied_identifier"] == 1


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("The film was kind and The staff were great.", "The film was kind and The staff were great."),  # ordinary
        ("I met Zofia at the desk.", "I met Zofia at the desk."),  # one word: the audit counts partial leaks
        ("Ask for Zofia Dubois today.", "Ask for [NAME] today."),
        ("Room 4B 17 again.", "Room [ID] again."),
        ("A Gentle Funny Film about Zofia Dubois.", "A Gentle Funny Film about [NAME]."),  # public phrase kept
    ],
)
def test_copy_guard_fires_on_copied_marked_spans_only(output: str, expected: str) -> None:
    seed = "Zofia Dubois here, in room 4B 17. A gentle funny film. The staff were kind."
    assert guard(output, seed, "A Gentle Funny Film")[0] == expected


def test_the_sink_never_writes_a_seeds_text(tmp_path: Path) -> None:
    table = rows().append_column("prompt_text", pa.array(["My name is [PERSON]"]))
    table = table.append_column("synthetic_text", pa.array(["A calm visit."]))
    private = Scrub.columns(cfg=RedactConfig(), domain=Domain()).private  # the scrubbed seed is declared private
    CommittedParquetSink(str(tmp_path), private).write([table], None)

    (part,) = tmp_path.glob("part-*.parquet")
    written = pq.read_table(part)
    assert "text" not in written.column_names and "prompt_text" not in written.column_names
    assert written.column("synthetic_text").to_pylist() == ["A calm visit."]
    assert not any(s in str(written.to_pylist()) for s in SECRETS)


def test_released_rows_are_redacted_before_the_sink(tmp_path: Path) -> None:
    """AUG-PE and DP-SGD release generated rows: their plan's last operator is the redactor, reading the raw
    sample, and the sink drops the raw sample, so only the redacted text reaches the parts."""
    from rpsg_ray.config import load_config
    from rpsg_ray.methods.common import redact_released
    from rpsg_ray.operators import plan_columns

    cfg = load_config(None, ["stages.redact.ner_model=null"])
    (op,) = redact_released(cfg, new_key())
    table = pa.table({"id": ["augpe-0", "augpe-1"], "text": ["Loved it, write to zofia.dk@example.com", "Calm."]})
    table = table.append_column("status", pa.array(["ok", "ok"]))
    released = op.cls(**op.kwargs)(table)
    CommittedParquetSink(str(tmp_path), plan_columns([op], table.column_names).private).write([released], None)
    (part,) = tmp_path.glob("part-*.parquet")
    written = pq.read_table(part)
    assert "text" not in written.column_names
    assert written.column("synthetic_text").to_pylist() == ["Loved it, write to [EMAIL]", "Calm."]
    assert written.column("pii_email").to_pylist() == [1, 0]

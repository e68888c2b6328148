"""Surrogates: the redactor numbers what it replaced, and the stand-ins follow the numbers, the key and the row."""

from __future__ import annotations

import pyarrow as pa

from rpsg_ray.config import Domain, RedactConfig, SurrogateConfig, load_config
from rpsg_ray.methods.rpsg import publish_ops
from rpsg_ray.privacy.keys import RunKey, new_key
from rpsg_ray.stages.redact import Redact, Redactor
from rpsg_ray.stages.surrogates import TAG, Surrogates

POSTS = Domain(name="posts", item="post", organisations_identify=True)
ON = RedactConfig(surrogates=SurrogateConfig(enabled=True))


def test_the_redactor_numbers_each_distinct_span_within_a_text() -> None:
    text = "Write to ana@mail.com or bo@mail.org; ana@mail.com answers first."
    numbered = Redactor(RedactConfig(ner_model=None), POSTS, numbered=True)([text, "And cy@mail.net."])[0]
    assert numbered == ["Write to [EMAIL_1] or [EMAIL_2]; [EMAIL_1] answers first.", "And [EMAIL_1]."]
    plain = Redactor(RedactConfig(ner_model=None), POSTS)([text])[0][0]
    assert plain == "Write to [EMAIL] or [EMAIL]; [EMAIL] answers first."  # off: the published tags


def test_names_found_by_the_ner_are_numbered_too() -> None:
    stage = Redact(ON, POSTS, column="text")
    text = "Zbigniew Lefèvre met Daniel Brooks, and Zbigniew Lefèvre paid."
    out = stage.process(pa.table({"text": [text]})).columns["synthetic_text"][0]
    assert out == "[PERSON_1] met [PERSON_2], and [PERSON_1] paid."


def _stand_ins(texts: list[str], ids: list[str], key: RunKey) -> list[str]:
    rows = pa.table({"id": ids, "synthetic_text": texts})
    return Surrogates(SurrogateConfig(enabled=True), key).process(rows).columns["synthetic_text"]


def test_the_same_numbered_tag_gets_the_same_stand_in_and_others_their_own() -> None:
    key = new_key()
    tagged = "[PERSON_1] met [PERSON_2] in [GPE_1]; [PERSON_1] paid. [DATE_1] [NAME] and [NAME]."
    out = _stand_ins([tagged], ["r"], key)[0]
    assert not TAG.search(out.replace("[DATE]", "")) and "[DATE]" in out  # no stand-in kind keeps its tag
    first, rest = out.split(" met ", 1)
    second = rest.split(" in ")[0]
    assert first != second and rest.count(first) == 1  # one person named twice, another once
    names = out.split("[DATE] ")[1].rstrip(".").split(" and ")
    assert names[0] != names[1]  # the copy guard's [NAME] carries no number: each gets its own draw


def test_stand_ins_come_from_the_secret_key_and_the_row() -> None:
    key, tagged = new_key(), ["[PERSON_1] was superb."] * 2
    once = _stand_ins(tagged, ["a", "b"], key)
    assert once == _stand_ins(tagged, ["a", "b"], key)  # reproducible on retry
    assert once[0] != once[1]  # rows draw apart
    assert once != _stand_ins(tagged, ["a", "b"], new_key())  # another run, other people


def test_the_stage_runs_after_the_copy_guard_and_before_quality_only_when_on() -> None:
    cfg = load_config(None, ["stages.fuse_light_stages=false"])
    assert [op.name for op in publish_ops(cfg, new_key())] == ["redact", "copy_guard", "quality"]
    on = load_config(None, ["stages.fuse_light_stages=false", "stages.redact.surrogates.enabled=true"])
    assert [op.name for op in publish_ops(on, new_key())] == ["redact", "copy_guard", "surrogates", "quality"]

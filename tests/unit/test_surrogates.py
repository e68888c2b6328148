"""Surrogates: the redactor numbers what it replaced, and the stand-ins follow the numbers, the key and the row."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from rpsg_ray.config import Domain, RedactConfig, SurrogateConfig, load_config
from rpsg_ray.errors import ConfigError
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


def test_numbered_tags_are_not_tagged_again_by_the_ner() -> None:
    """The NER sees "EMAIL_2" inside "[EMAIL_2]" as a name or a firm; numbering must change nothing but the
    numbers: the same spans replaced, the same counts, no tag inside a tag."""
    texts = [
        f"I wrote to a{i}@mail.com and then b{i}@corp.org, and finally c.a@web.net about account 12345{i}6."
        for i in range(20)
    ]
    plain, plain_counts = Redactor(RedactConfig(), POSTS)(texts)
    numbered, counts = Redactor(RedactConfig(), POSTS, numbered=True)(texts)
    assert not any("[[" in t for t in numbered)
    assert [re.sub(r"_\d+\]", "]", t) for t in numbered] == plain and counts == plain_counts
    assert numbered[0] == "I wrote to [EMAIL_1] and then [EMAIL_2], and finally [EMAIL_3] about account [ID_1]."


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


def test_two_people_in_a_row_never_share_a_stand_in_and_contacts_reach_no_one() -> None:
    key = new_key()
    rows = _stand_ins(["[PERSON_1], [PERSON_2] and [PERSON_3] called [PHONE_1] and read [URL_1]."] * 200,
                      [f"r{i}" for i in range(200)], key)  # fmt: skip
    for row in rows:
        people = row.split(" called ")[0].replace(" and ", ", ").split(", ")
        assert len(set(people)) == 3, row
        assert "555-01" in row and "https://www.example." in row, row


def test_an_unknown_locale_is_refused_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match="unknown Faker locale"):
        load_config(None, ["stages.redact.surrogates.locale=xx_XX"])


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


def test_every_method_publishes_through_the_surrogates_when_on() -> None:
    """AUG-PE, DP-SGD and RPSG-DP publish through redact_released, RUPTA through its own plan."""
    from types import SimpleNamespace

    from rpsg_ray.methods.common import redact_released
    from rpsg_ray.methods.rupta import rupta_plan

    on = load_config(None, ["stages.redact.surrogates.enabled=true"])
    assert [op.name for op in redact_released(on, new_key())] == ["redact", "surrogates"]
    assert [op.name for op in redact_released(load_config(None), new_key())] == ["redact"]
    ctx = SimpleNamespace(cfg=on, corpus=SimpleNamespace(key=new_key()))
    assert [op.name for op in rupta_plan(ctx).ops][-2:] == ["redact", "surrogates"]

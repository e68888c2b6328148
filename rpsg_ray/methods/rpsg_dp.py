"""RPSG-DP: RPSG's premise (a public LLM, no training, realistic text from private seeds) with an add/remove
guarantee over the whole released set, by private prediction (privacy/private_prediction.py has the mechanism,
its sources and its accounting).

The plan, all in Ray Data: every valid record is labelled (where the input has no label) and scrubbed of the
identifiers the redactor finds; it joins one group of its label by a keyed hash of its own id (so adding or
removing a record moves no other); every group, empty or not, yields m outputs, whose count is fixed by public
quantities (groups per label · labels · m). Each output is decoded in an actor pool by the lock-step decoder,
from the group's public prompt and one prompt per record. The drafts then pass the redactor and the quality
check, which read the drafts alone (post-processing). The private side (the grouped, scrubbed records) stays
in the object store; only drafts reach the published file.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pyarrow as pa
import ray.data

from rpsg_ray.config import Config, Domain, Engine
from rpsg_ray.engines.base import Chat
from rpsg_ray.engines.lockstep import GroupPrompt, LockstepDecoder, TokenRule
from rpsg_ray.engines.registry import resolve_model_path
from rpsg_ray.errors import ConfigError
from rpsg_ray.methods.base import Method, Release, RunContext
from rpsg_ray.methods.common import label_chat, redact_released
from rpsg_ray.methods.prepare import prepare_ops
from rpsg_ray.operators import StageOp, run_stages
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.privacy.ledger import rpsg_dp_ledger
from rpsg_ray.rows import OK, Columns
from rpsg_ray.stages.prompts import example_turns, fit_text, shown_examples, text_room
from rpsg_ray.stages.quality import Quality

GROUP_RANK = "rpsg_dp-group"
"""The key's domain for a record's group (privacy/keys.py: one domain per use of the key)."""
EXAMPLES_DRAW = "rpsg_dp-examples"
"""The key's domain for a group's public examples."""
SHUFFLE_PARTITIONS = 16
"""Ray Data's hash shuffle defaults to 200 partitions, one reduce task each: at a few hundred groups on 2 cores
that is mostly scheduling. 16 keeps the reduce parallel on a node or two; a bigger cluster can raise it."""
GROUPS = pa.schema(
    [
        ("group", pa.int64()),
        ("label", pa.string()),
        ("records", pa.list_(pa.string())),
        ("seeds", pa.list_(pa.int64())),
        ("examples", pa.list_(pa.string())),
    ]
)
"""One row per group: its scrubbed records (private), one keyed seed per draft and the public examples its
prompts show."""
DRAFTS = pa.schema(
    [
        ("id", pa.string()),
        ("label", pa.string()),
        ("text", pa.string()),
        ("tokens_rpsg_dp", pa.int64()),
        ("target_words", pa.int64()),
        ("status", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
    ]
)
"""The drafts as the release stream carries them: no length target (the quality check judges each by the
domain's rules alone)."""


def groups_per_label(cfg: Config) -> int:
    """rpsg_dp.groups_per_label, or privacy.public_records / (s · labels): from public figures only."""
    d = cfg.rpsg_dp
    if d.groups_per_label is not None:
        return d.groups_per_label
    if cfg.privacy.public_records is None:
        raise ConfigError("rpsg_dp needs rpsg_dp.groups_per_label or privacy.public_records (a public size)")
    return max(1, cfg.privacy.public_records // (d.group_size * len(cfg.domain.classes)))


def public_chat(domain: Domain, label: str | None, examples: list[str]) -> Chat:
    """The group's public request: `label_chat`, after the public examples as earlier turns where shown. They
    cost no ε (the public row carries them too) and set the form the clipped private signal writes in."""
    system, ask = label_chat(domain, label)
    return [system, *example_turns(domain, examples), ask]


def example_chat(domain: Domain, label: str | None, record: str, examples: list[str]) -> Chat:
    """The public request with one record shown as an example: only the record differs from `public_chat`, so
    the record's logit difference to the public row is what it adds."""
    *before, ask = public_chat(domain, label, examples)
    shown = f"Here is a {domain.item}:\n\n{record}\n\n{ask['content']} Write a new one on a similar subject."
    return [*before, {"role": "user", "content": shown}]


def group_examples(domain: Domain, key: RunKey, group: int, label: str, show: bool) -> list[str]:
    """The public examples a group's prompts show: `domain.examples_shown` of its label's pool drawn by the run's
    secret key for this group (a public index), so groups vary in form; none where `rpsg_dp.show_examples` is
    off."""
    if not show:
        return []
    return shown_examples(domain, random.Random(key.sampling_seed(f"group-{group}", EXAMPLES_DRAW)), label)


def assign_groups(batch: pa.Table, key: RunKey, classes: tuple[str, ...], per_label: int) -> pa.Table:
    """Each record's group: its label's block of `per_label` groups, at a keyed hash of its id (a record with no
    known label takes a keyed label, so it still sits in exactly one group)."""
    ids, labels = batch.column("id").to_pylist(), batch.column("label").to_pylist()
    groups = []
    for rid, label in zip(ids, labels, strict=True):
        rank = key.rank(GROUP_RANK, rid)
        index = classes.index(label) if label in classes else (rank // per_label) % len(classes)
        groups.append(index * per_label + rank % per_label)
    return pa.table({"group": pa.array(groups, pa.int64()), "record": batch.column("prompt_text")})


def group_row(group: pa.Table, key: RunKey, domain: Domain, per_label: int, m: int, show: bool) -> pa.Table:
    """One group's row: its records (the placeholder row every group has carries none), its drafts' seeds and
    its public examples."""
    number = group.column("group")[0].as_py()
    records = [r for r in group.column("record").to_pylist() if r is not None]
    seeds = [key.sampling_seed(draft_id(number, j), "rpsg_dp") for j in range(m)]
    label = domain.classes[number // per_label]
    row = {"group": [number], "label": [label], "records": [records], "seeds": [seeds]}
    return pa.table({**row, "examples": [group_examples(domain, key, number, label, show)]}, schema=GROUPS)


def draft_id(group: int, j: int) -> str:
    return f"rpsg_dp-{group}-{j}"


class PrivateDecode:
    """Group rows → their drafts (m rows each): `text` decoded in lock-step from the group's records."""

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        outputs = {f.name: f.type for f in DRAFTS}
        inputs = ("group", "label", "records", "seeds", "examples")
        return Columns("rpsg_dp_decode", inputs, outputs, private=("records",))

    def __init__(self, engine: Engine, domain: Domain, rule: TokenRule, max_tokens: int, stop: list[str]) -> None:
        self.decoder = LockstepDecoder(resolve_model_path(engine.model), engine.spec())
        self.domain, self.rule, self.max_tokens, self.stop = domain, rule, max_tokens, tuple(stop)

    def __call__(self, batch: pa.Table) -> pa.Table:
        labels, numbers = batch.column("label").to_pylist(), batch.column("group").to_pylist()
        columns = (batch.column(c).to_pylist() for c in ("records", "seeds", "examples"))
        groups = [
            GroupPrompt(public_chat(self.domain, label, shown), self.record_chats(label, records, shown), seeds)
            for label, records, seeds, shown in zip(labels, *columns, strict=True)
        ]
        drafted = self.decoder.decode(groups, self.rule, self.max_tokens, self.stop)
        rows = [
            {"id": draft_id(number, j), "label": label, "text": d.text, "tokens_rpsg_dp": d.tokens, "status": OK}
            for number, label, drafts in zip(numbers, labels, drafted, strict=True)
            for j, d in enumerate(drafts)
        ]
        return pa.Table.from_pylist(rows, schema=DRAFTS)

    def record_chats(self, label: str, records: list[str], shown: list[str]) -> list[Chat]:
        """One prompt per record, each record's tail cut (at a word) to the room its group's prompt leaves: the
        engine would otherwise cut the middle of the prompt, through the examples shared with the public row."""
        room = text_room(example_chat(self.domain, label, "", shown), self.decoder.max_model_len, self.max_tokens)
        return [example_chat(self.domain, label, fit_text(r, room)[0], shown) for r in records]


def rpsg_dp_plan(ctx: RunContext) -> Release:
    """Group the labelled, scrubbed records, then decode every group's drafts and post-process them."""
    cfg, key, d = ctx.cfg, ctx.corpus.key, ctx.cfg.rpsg_dp
    classes, per_label = cfg.domain.classes, groups_per_label(cfg)
    clip = ctx.corpus.ledger.composition.get("clip")
    rule = TokenRule(math.inf if clip is None else clip, d.group_size, d.temperature, d.top_k)
    assigned = run_stages(ctx.corpus.records(), prepare_ops(cfg)).map_batches(
        assign_groups,
        fn_kwargs={"key": key, "classes": classes, "per_label": per_label},
        batch_format="pyarrow",
    )
    every = len(classes) * per_label  # one placeholder per group, so an empty group still yields its m drafts
    numbers = pa.array(range(every), pa.int64())
    placeholders = ray.data.from_arrow(pa.table({"group": numbers, "record": pa.nulls(every, pa.string())}))
    rows = (
        assigned.union(placeholders)
        .groupby("group", num_partitions=min(every, SHUFFLE_PARTITIONS))
        .map_groups(
            group_row,
            fn_kwargs={
                "key": key,
                "domain": cfg.domain,
                "per_label": per_label,
                "m": d.outputs_per_group,
                "show": d.show_examples,
            },
            batch_format="pyarrow",
        )
        .materialize()  # private (the records); kept in the object store, read once by the release stream
    )
    decode = StageOp(
        "rpsg_dp_decode",
        PrivateDecode,
        {"engine": d.engine, "domain": cfg.domain, "rule": rule, "max_tokens": d.max_tokens, "stop": d.stop},
        d.resources,
    )
    st = cfg.stages
    quality = StageOp(
        "quality", Quality, {"cfg": st.quality, "domain": cfg.domain, "length_tolerance": 1.0}, st.quality.resources
    )
    details = {"groups": every, "groups_per_label": per_label, "drafts": every * d.outputs_per_group, "clip": clip}
    return Release(rows, [decode, *redact_released(cfg, key), quality], details, {}, every * d.outputs_per_group)


RPSG_DP = Method(
    name="rpsg_dp",
    title="RPSG-DP",
    summary="RPSG with a dataset-level guarantee: drafts by private prediction over groups of records, then "
    "public post-processing",
    ledger=rpsg_dp_ledger,
    plan=rpsg_dp_plan,
    one_row_per_id=True,
    seed_sample=False,
)

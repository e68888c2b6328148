"""What the dataset-level methods share (AUG-PE, DP-SGD): label-conditioned public prompts, and their generated
rows as the run publishes them, redacted like every method's output."""

from __future__ import annotations

import ray.data

from rpsg_ray.config import Config, Domain
from rpsg_ray.engines.base import Chat
from rpsg_ray.operators import StageOp
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import OK
from rpsg_ray.stages.prompts import record_kind
from rpsg_ray.stages.redact import Redact
from rpsg_ray.stages.surrogates import Surrogates


def label_chat(domain: Domain, label: str | None) -> Chat:
    """A public, label-conditioned request for one record (no private data in it)."""
    kind = record_kind(domain, label, "short")
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": f"Write a {kind} of 20 to 40 words. Output only the text."},
    ]


def chat_row(chat: Chat) -> dict[str, str]:
    return {"system": chat[0]["content"], "user": chat[1]["content"]}


def released_rows(method: str, texts: list[str], labels: list[str]) -> ray.data.Dataset:
    """A dataset-level method's generated rows, live for the release operators, named `<method>-<n>`."""
    return ray.data.from_items(
        [
            {"id": f"{method}-{i}", "text": t, "label": lab, "status": OK, "stage": None, "reason": None}
            for i, (t, lab) in enumerate(zip(texts, labels, strict=True))
        ]
    )


def redact_released(cfg: Config, key: RunKey) -> list[StageOp]:
    """Every method's output is redacted like RPSG's (names and numbers a generator wrote out)."""
    st = cfg.stages
    redact = StageOp("redact", Redact, {"cfg": st.redact, "domain": cfg.domain, "column": "text"}, st.redact.resources)
    return [redact, *surrogate_ops(cfg, key)]


def surrogate_ops(cfg: Config, key: RunKey) -> list[StageOp]:
    """The surrogates stage after the last one that writes tags, where the config turns it on."""
    s = cfg.stages.redact.surrogates
    return [StageOp("surrogates", Surrogates, {"cfg": s, "key": key}, s.resources)] if s.enabled else []

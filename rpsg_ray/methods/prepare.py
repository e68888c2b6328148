"""The stages a seed-by-seed method (RPSG, RUPTA) runs before any prompt: label, then scrub."""

from __future__ import annotations

from rpsg_ray.config import Config
from rpsg_ray.operators import StageOp, fuse, widest
from rpsg_ray.stages.label import Label
from rpsg_ray.stages.scrub import Scrub


def prepare_ops(cfg: Config) -> list[StageOp]:
    """Label the seeds the input left unlabelled, then scrub them: before any stage that prompts a generator.
    One pool for both where `stages.fuse_light_stages`: the most actors, CPUs and GPUs either asks for (the
    label's classifier may want a GPU), at the label's batch size."""
    st = cfg.stages
    ops = [
        StageOp("label", Label, {"cfg": st.label}, st.label.resources),
        StageOp("scrub", Scrub, {"cfg": st.redact, "domain": cfg.domain}, st.redact.resources),
    ]
    return [fuse("prepare", ops, widest(ops, st.label.resources.batch_size))] if st.fuse_light_stages else ops

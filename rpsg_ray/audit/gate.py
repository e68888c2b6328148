"""The release gate of `rpsg audit run --gate`: reasons to hold a release back, read from an audit's
metrics.json, so a pipeline can stop on them (exit status 3) without a person reading the report."""

from __future__ import annotations

from typing import Any


def gate_failures(metrics: dict[str, Any]) -> list[str]:
    """A planted canary written out verbatim, members written out whole more often than non-members, or a
    claimed whole-output ε below the one-run empirical bound."""
    failures = []
    v = metrics.get("verbatim") or {}
    if v and v["members_copied"] and v["members_copied"] / v["members"] > v["non_members_copied"] / v["non_members"]:
        failures.append(
            f"{v['members_copied']} of {v['members']} members appear verbatim in the output "
            f"({v['non_members_copied']} of {v['non_members']} non-members)"
        )
    leaked = [c["canary_id"] for c in metrics.get("canaries", []) if c["included"] and c["verbatim_rows"] > 0]
    if leaked:
        failures.append(f"{len(leaked)} planted canaries appear verbatim in the output")
    one, claim = metrics.get("one_run"), metrics.get("claim", {})
    tested = one and claim.get("dataset_level") and claim.get("epsilon") is not None
    if tested and one["epsilon_empirical"] > claim["epsilon"]:
        failures.append(
            f"empirical ε {one['epsilon_empirical']:.2f} exceeds the ε {claim['epsilon']:g} claimed for the output"
        )
    return failures

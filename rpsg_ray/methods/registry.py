"""Every method by name: the run, the CLI and `rpsg account` read this table only (the config names the same
methods, one section each; tests/unit/test_plan.py checks the two agree).

Adding a method: its module (a `Method`), its config section, and one line here.
"""

from __future__ import annotations

from rpsg_ray.config import Config
from rpsg_ray.errors import ConfigError
from rpsg_ray.methods.augpe import AUGPE
from rpsg_ray.methods.base import Method
from rpsg_ray.methods.dpsgd import DPSGD
from rpsg_ray.methods.rpsg import RPSG
from rpsg_ray.methods.rpsg_dp import RPSG_DP
from rpsg_ray.methods.rupta import RUPTA
from rpsg_ray.privacy.ledger import Ledger

METHODS: dict[str, Method] = {m.name: m for m in (RPSG, RPSG_DP, AUGPE, DPSGD, RUPTA)}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def ledger_for(cfg: Config, name: str, n_records: int | None, sigma: float | None = None) -> Ledger:
    """The method's ledger; ``n_records`` is the counted N (published only by methods whose relation does not
    protect a record's presence)."""
    return method(name).ledger(cfg, n_records, sigma)

"""How a run is accounted and where it runs: the privacy section every method shares, and the runtime."""

from __future__ import annotations

from pydantic import Field

from rpsg_ray.config.sections import Section


class PrivacyConfig(Section):
    """What every method's ledger shares: δ, and a size of the private set that may be published. Each
    method's ε is in its own section, with what it covers."""

    delta: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="δ; null: 1/(n·ln n), n = the counted records (rpsg, rupta) or privacy.public_records "
        "(augpe, dpsgd).",
    )
    public_records: int | None = Field(
        None,
        ge=2,
        description="A size of the private set that may be published (declared by the data owner, e.g. a round "
        "bound; never counted from the data). AUG-PE and DP-SGD protect a record's presence (add/remove), so "
        "they neither publish nor use the counted N: δ's default and DP-SGD's sampling rate come from this.",
    )
    allow_large_delta: bool = Field(
        False, description="Accept a configured δ ≥ 1/N (such a δ permits leaking a whole record); refused otherwise."
    )


class RuntimeConfig(Section):
    address: str | None = Field(
        None, description="Ray cluster address; None: RAY_ADDRESS or a local in-process runtime."
    )
    local_num_cpus: int = Field(12, ge=2, description="Logical CPUs of the local runtime (more than pool slots).")
    seed: int = Field(
        20260407,
        description="Public seed for choices that protect nothing (e.g. AUG-PE's tone per prompt). DP noise, LLM "
        "sampling and the seed sample derive from the run's secret key instead (private/run.key).",
    )
    read_num_cpus: float = Field(0.25, gt=0, description="CPUs per read/write task.")
    block_rows: int = Field(1024, ge=1, description="Rows per block produced by the reader (streaming granularity).")
    progress: bool = Field(True, description="Show Ray Data progress bars.")
    object_store_budget_mib: int | None = Field(
        128,
        ge=64,
        description="Cap on the object-store memory the plan's queued blocks may hold (None: Ray Data's default, "
        "half the store). A cap bounds the blocks in flight that the driver owns.",
    )
    stream_window_rows: int | None = Field(
        100_000,
        ge=1,
        description="Run the stream as consecutive Ray Data executions of about this many rows bound for the model "
        "stages (whole read units). The driver keeps stats for every block an execution produced (Ray 2.60), "
        "freed when the execution ends: a 1M-row data plane in one execution grew the driver by ~100 MiB per "
        "100k rows. Each window restarts the model pools: raise it where engines load slowly. None: one execution.",
    )
    min_actors_timeout_s: int | None = Field(
        None,
        ge=1,
        description="Fail when a pool's minimum actors have not started after this many seconds (a cluster too "
        "small for the plan). None: Ray Data waits forever. While set, pools start one after another.",
    )

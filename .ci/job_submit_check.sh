#!/usr/bin/env bash
# Start a real Ray head on loopback, submit the demo job with `ray job submit`, check its outputs,
# submit a job that must fail with a clear one-line error, and always stop the head.
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate            # the head's workers run the venv's python
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
ADDR=http://127.0.0.1:8265
OUT="$PWD/runs/ci-job"
rm -rf "$OUT"
ray start --head --port=6379 --dashboard-host=127.0.0.1 --dashboard-port=8265 --num-cpus=12 \
  --disable-usage-stats >/dev/null
trap 'ray stop --force >/dev/null 2>&1 || true' EXIT

submit() { ray job submit --address "$ADDR" --runtime-env jobs/runtime_env.yaml --working-dir . "$@"; }

echo "-- submitting the demo job (8 seeds)"
submit --submission-id "rpsg-ci-ok-$$" -- python jobs/generate.py --config configs/demo.yaml \
  --input "$PWD/data/demo/rotten_tomatoes.parquet" --output "$OUT" --set input.seeds=8 \
  --set rpsg.nll_filter.calibration.sample_size=32 > runs/ci-job.log 2>&1 || { tail -50 runs/ci-job.log; exit 1; }
ray job logs --address "$ADDR" "rpsg-ci-ok-$$" | tail -25
python - "$OUT" <<'PY'
import json, sys, pyarrow.parquet as pq
run = sys.argv[1]
m = json.load(open(f"{run}/private/manifest.json"))
assert m["accounting"]["balanced"], m["accounting"]
n = pq.read_metadata(f"{run}/synthetic.parquet").num_rows
assert n > 0, "synthetic.parquet is empty"
print(f"job outputs ok: {n} synthetic rows, {m['counts']}")
PY

echo "-- submitting a job that must fail (δ = 2)"
if submit --submission-id "rpsg-ci-bad-$$" -- python jobs/generate.py --config configs/demo.yaml \
     --set privacy.delta=2 > runs/ci-job-bad.log 2>&1; then
  echo "a job with an invalid config succeeded"; exit 1
fi
ray job logs --address "$ADDR" "rpsg-ci-bad-$$" > runs/ci-job-bad-logs.txt 2>&1 || true
grep -q "error: invalid config: privacy.delta" runs/ci-job-bad-logs.txt || { cat runs/ci-job-bad-logs.txt; exit 1; }
if grep -q Traceback runs/ci-job-bad-logs.txt; then echo "traceback in job logs"; exit 1; fi
echo "job submit checks passed"

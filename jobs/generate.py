"""`ray job submit` entrypoint: run a method (RPSG by default) inside the cluster the job was submitted to.

    ray job submit --address http://HEAD:8265 --runtime-env jobs/runtime_env.yaml --working-dir . -- \
        python jobs/generate.py --config configs/gpu.yaml --input /shared/seeds --output /shared/runs/r1

Ray sets RAY_ADDRESS for the job, so the library joins that cluster instead of starting one.
Arguments are those of `rpsg generate`; exit codes and one-line errors are the same.
"""

from __future__ import annotations

import sys

from rpsg_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))

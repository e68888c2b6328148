"""`ray job submit` entrypoint for the privacy calculator (`rpsg account` arguments)."""

from __future__ import annotations

import sys

from rpsg_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["account", *sys.argv[1:]]))

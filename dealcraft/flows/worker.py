"""``python -m dealcraft.flows.worker``: the worker without the CLI (used by the crash test)."""

from __future__ import annotations

import logging
import sys

from dealcraft.flows.engine import run_worker
from dealcraft.settings import load_settings
from dealcraft.workspace import Workspace


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    workspace = Workspace(load_settings())
    workspace.initialise()
    try:
        run_worker(workspace, workers=workers)
    finally:
        workspace.close()


if __name__ == "__main__":
    main()

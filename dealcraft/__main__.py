"""``python -m dealcraft``: the same command line as ``dealcraft``."""

from dealcraft.cli import app

app()

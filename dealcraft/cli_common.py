"""What every ``dealcraft`` sub-command shares: the --data-dir option and opening a workspace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dealcraft.settings import SettingsError, load_settings

err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Workspace data directory (DEALCRAFT_DATA_DIR).", show_default=False
    ),
]


def open_workspace(data_dir: Path | None, *, initialise: bool = True):
    """The workspace for a command, its tables upgraded (and the core app installed).

    A bad setting ends the command with exit code 2 and a message naming the variable.
    """
    from dealcraft.db import migrate
    from dealcraft.workspace import Workspace

    if data_dir is not None:
        os.environ["DEALCRAFT_DATA_DIR"] = str(data_dir)
    try:
        settings = load_settings()
    except SettingsError as e:
        err_console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    workspace = Workspace(settings)
    if initialise:
        workspace.initialise()
    else:
        migrate.upgrade(workspace.engine)
    return workspace

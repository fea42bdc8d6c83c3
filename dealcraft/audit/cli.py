"""``dealcraft audit``: verify the trail, apply retention, print the heads to keep elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dealcraft.audit.log import AuditLog
from dealcraft.cli_common import DataDir, open_workspace
from dealcraft.errors import DealcraftError

audit_app = typer.Typer(help="The audit trail: verify, retention, heads.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

def _workspace(data_dir: Path | None):
    return open_workspace(data_dir, initialise=False)


@audit_app.command("verify")
def verify_command(
    data_dir: DataDir = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A file written earlier by `dealcraft audit heads`, kept elsewhere."),
    ] = None,
) -> None:
    """Check every audit entry; exit 1 naming the first bad one if the trail was tampered with."""
    expected = None
    if checkpoint is not None:
        try:
            expected = json.loads(checkpoint.read_text(encoding="utf-8"))["heads"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            err_console.print(f"[red]cannot read checkpoint {checkpoint}: {e}[/red]")
            raise typer.Exit(2) from e
    workspace = _workspace(data_dir)
    try:
        result = AuditLog().verify(workspace.engine, checkpoint=expected)
    finally:
        workspace.close()
    if result.ok:
        console.print(f"OK: {result.checked} audit entries verified")
        return
    bad = result.first_bad or {}
    place = f"shard {bad.get('shard')}, seq {bad.get('seq')}"
    where = f"entry id {bad['id']} ({place})" if bad.get("id") is not None else place
    err_console.print(f"[red]TAMPERED: {where}: {result.reason}[/red]", soft_wrap=True)
    console.print(f"{result.checked} audit entries read")
    raise typer.Exit(1)


@audit_app.command("purge")
def purge_command(
    years: Annotated[
        list[str],
        typer.Option(
            "--years", help="Retention as CATEGORY=YEARS, e.g. --years auth=2 --years data=10."
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Purge entries older than their category's retention; the chains stay verifiable."""
    retention: dict[str, int] = {}
    for item in years:
        category, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise typer.BadParameter(
                f"expected CATEGORY=YEARS such as auth=2, got {item!r}", param_hint="--years"
            )
        retention[category.strip()] = int(value)
    workspace = _workspace(data_dir)
    try:
        purged = AuditLog().purge(workspace.engine, retention)
    except DealcraftError as e:
        err_console.print(f"[red]{e.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from e
    finally:
        workspace.close()
    console.print(f"purged {purged} audit entries")


@audit_app.command("heads")
def heads_command(data_dir: DataDir = None) -> None:
    """Print every shard's head as JSON; store it outside the database, e.g. daily."""
    from dealcraft.audit.log import utcnow

    workspace = _workspace(data_dir)
    try:
        heads = AuditLog().heads(workspace.engine)
    finally:
        workspace.close()
    document = {"taken_at": utcnow().isoformat(), "heads": heads}
    typer.echo(json.dumps(document, indent=2))

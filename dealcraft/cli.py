"""The ``dealcraft`` command."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dealcraft.audit.cli import audit_app
from dealcraft.cli_common import DataDir, open_workspace
from dealcraft.errors import DealcraftError
from dealcraft.flows.cli import flow_app, worker_command

app = typer.Typer(help="Dealcraft: metadata-driven CRM, REST API and tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their passwords.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit", help="The tamper-evident audit trail.")
app.add_typer(flow_app, name="flow", help="Automation flows: definitions and runs.")
app.command("worker")(worker_command)

console = Console()
err_console = Console(stderr=True)


def _workspace(data_dir: Path | None, initialise: bool = True):
    return open_workspace(data_dir, initialise=initialise)


def _fail(error: DealcraftError) -> None:
    err_console.print(f"[red]error[/red] [bold]{error.code}[/bold]: {error.message}")
    if error.details:
        err_console.print(json.dumps(error.details, ensure_ascii=False, default=str)[:4000])
    raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker/--no-worker",
            help="Also run the flow worker (`dealcraft worker`) beside the server.",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Serve the API (and web app) over HTTP."""
    import uvicorn

    _workspace(data_dir).close()
    console.print(f"Dealcraft on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")
    worker = _start_worker(data_dir) if with_worker else None
    try:
        uvicorn.run(
            "dealcraft.app:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    finally:
        if worker is not None:
            _stop_worker(worker)


def _start_worker(data_dir: Path | None) -> subprocess.Popen:
    """``dealcraft worker`` as a child process, so flows run while the server does."""
    command = [sys.executable, "-m", "dealcraft", "worker"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    worker = subprocess.Popen(command)
    console.print(f"flow worker running (pid {worker.pid})")
    return worker


def _stop_worker(worker: subprocess.Popen) -> None:
    # The worker finishes the step it is on when asked to stop; a run it leaves is resumed
    # by the next worker once its lease expires, so a kill after the grace period loses nothing.
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@app.command()
def demo(
    scale: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when built.")
    ] = True,
    reset: Annotated[bool, typer.Option(help="Delete an existing demo workspace first.")] = False,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed builds the same company.")
    ] = 7,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Build a realistic synthetic company (and serve it)."""
    from dealcraft.demo import SCALES, build_demo, demo_scale

    if scale not in SCALES:
        err_console.print(f"[red]--scale must be one of {', '.join(SCALES)}[/red]")
        raise typer.Exit(2)
    data_dir = data_dir or Path(os.environ.get("DEALCRAFT_DATA_DIR", "dealcraft-data"))
    if reset and data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    workspace = _workspace(data_dir)
    existing = demo_scale(workspace)
    if existing:
        console.print(
            f"The demo company ({existing}) is already in {data_dir}; use --reset to rebuild."
        )
    else:
        with _progress() as progress:
            tasks: dict[str, int] = {}

            def report(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = progress.add_task(step, total=total)
                progress.update(tasks[step], completed=done)

            try:
                summary = build_demo(workspace, scale, seed=seed, progress=report)
            except DealcraftError as e:
                progress.stop()
                _fail(e)
        table = Table("object", "records")
        for name, count in summary.items():
            table.add_row(name, str(count))
        console.print(table)
    console.print(
        "Sign in as [bold]admin[/bold] (or any demo user) with the password in "
        "DEALCRAFT_DEMO_PASSWORD (default: dealcraft-demo)."
    )
    workspace.close()
    if serve_after:
        serve(host=host, port=port, workers=1, with_worker=True, data_dir=data_dir)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply migrations and install the core sales app if missing."""
    _workspace(data_dir).close()
    console.print("database is up to date")


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="Role, e.g. admin or sales_rep.")] = "sales_rep",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    region: Annotated[str | None, typer.Option(help="Region, e.g. 华东.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a user (the first one is usually an admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    workspace = _workspace(data_dir)
    fields = {"role": role, "name": name or username}
    if region:
        fields["region"] = region
    try:
        user = workspace.identity.create_user(username, password, **fields)
    except DealcraftError as e:
        _fail(e)
    console.print(f"created user {username} (id {user['id']}, role {role})")


@app.command("import")
def import_command(
    object_name: Annotated[str, typer.Argument(metavar="OBJECT")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    key: Annotated[
        str | None, typer.Option(help="Update records matching this field instead of duplicating.")
    ] = None,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Import the good rows, report the bad ones.")
    ] = False,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="COLUMN=field, overriding the automatic match."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the validation report (CSV) here.")
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this user (default: system).")
    ] = None,
    keep_created_at: Annotated[
        bool,
        typer.Option(
            "--keep-created-at",
            help="New records take the file's created_at column (admins; historical data).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Import records from CSV or XLSX."""
    from dealcraft.records import transfer

    workspace = _workspace(data_dir)
    principal = _acting_principal(workspace, as_user)
    mapping = dict(item.split("=", 1) for item in map_ or [])
    try:
        with _progress() as progress:
            task = progress.add_task(f"importing {file.name}", total=None)
            result = transfer.import_file(
                workspace.records,
                principal,
                object_name,
                file,
                key=key,
                skip_bad_rows=skip_bad_rows,
                mapping=mapping,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                keep_created_at=keep_created_at,
            )
    except DealcraftError as e:
        if report is not None and getattr(e, "rejected", None):
            transfer.write_report(report, e.rejected)  # type: ignore[attr-defined]
            err_console.print(f"validation report written to {report}")
        _fail(e)
    if report is not None:
        transfer.write_report(report, result.rejected)
    console.print(
        f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
        f"rejected {len(result.rejected)}"
    )
    for row in result.rejected[:20]:
        console.print(f"  row {row.row}, {row.field}: {row.message}")


@app.command("export")
def export_command(
    object_name: Annotated[str, typer.Argument(metavar="OBJECT", help="An object, or 'trace'.")],
    leaked: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="With 'trace': the file to trace.")
    ] = None,
    where: Annotated[str | None, typer.Option(help="Filter expression.")] = None,
    format_: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default OBJECT.FORMAT).")
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this user (default: system).")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option(help="Declared purpose, e.g. sales_followup.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Export records to CSV or XLSX (watermarked); `export trace FILE` names the exporter."""
    from dealcraft.records import transfer

    workspace = _workspace(data_dir)
    if object_name == "trace":
        _trace(workspace, leaked)
        return
    principal = _acting_principal(workspace, as_user)
    if purpose:
        principal = principal.with_request(purpose=purpose)
    output = output or Path(f"{object_name}.{format_}")
    try:
        with _progress() as progress:
            task = progress.add_task(f"exporting {object_name}", total=None)
            count = transfer.export_file(
                workspace.records,
                principal,
                object_name,
                output,
                where=where,
                format=format_,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                exports=workspace.exports,
            )
    except DealcraftError as e:
        _fail(e)
    console.print(f"exported {count} {object_name} record(s) to {output}")


def _trace(workspace, leaked: Path | None) -> None:
    from dealcraft.records import transfer

    if leaked is None or not leaked.exists():
        err_console.print("[red]usage: dealcraft export trace FILE (an existing file)[/red]")
        raise typer.Exit(2)
    try:
        found = transfer.trace_file(workspace.exports, leaked)
    except DealcraftError as e:
        _fail(e)
    if not found["found"]:
        console.print(f"no registered export matches {leaked} ({found['rows']} rows read)")
        raise typer.Exit(1)
    console.print(
        f"export {found['export_id']} by [bold]{found['username']}[/bold] "
        f"(user {found['user_id']}) at {found['exported_at']}: {found['object']} "
        f"where {found['where'] or '(all)'}, purpose {found['purpose'] or '-'}, "
        f"{found['row_count']} rows; matched {found['matched_rows']} of {found['rows']} rows "
        f"by {found['method']}"
    )
    console.print_json(data=found)


def _acting_principal(workspace, username: str | None):
    from dealcraft.access.principal import SYSTEM

    if username is None:
        return SYSTEM
    user = workspace.identity.find_user(username)
    if user is None:
        err_console.print(f"[red]no user named {username!r}[/red]")
        raise typer.Exit(2)
    return workspace.identity.principal_for_user(user)


if __name__ == "__main__":
    app()

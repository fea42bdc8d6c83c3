"""``dealcraft flow import|export|list|run|dry-run|retry|cancel|show`` and ``dealcraft worker``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dealcraft.cli_common import DataDir, open_workspace
from dealcraft.errors import DealcraftError

flow_app = typer.Typer(help="Automation flows: definitions and runs.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)


def _workspace(data_dir: Path | None):
    return open_workspace(data_dir, initialise=True)


def _fail(error: DealcraftError) -> None:
    err_console.print(f"[red]error[/red] [bold]{error.code}[/bold]: {error.message}")
    for item in error.details.get("errors", [])[:50]:
        err_console.print(f"  {item['field']}: [bold]{item['code']}[/bold] {item['message']}")
    raise typer.Exit(1)


@flow_app.command("import")
def import_flow(
    path: Annotated[Path, typer.Argument(help="A flow definition in YAML.", exists=True)],
    data_dir: DataDir = None,
) -> None:
    """Validate and save a flow; a changed definition becomes its next version."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        saved = FlowService(ws).import_yaml(path.read_text(encoding="utf-8"))
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()
    note = "" if saved["changed"] else " (unchanged)"
    console.print(f"flow {saved['name']} version {saved['version']}{note}")


@flow_app.command("export")
def export_flow(
    name: str,
    version: Annotated[int | None, typer.Option(help="A version; default the current.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a flow's definition as YAML."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        typer.echo(FlowService(ws).export_yaml(name, version), nl=False)
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


@flow_app.command("list")
def list_flows(data_dir: DataDir = None) -> None:
    """Flows, their current version and their runs by status."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        table = Table("flow", "enabled", "version", "runs")
        for flow in FlowService(ws).list():
            runs = ", ".join(f"{k} {v}" for k, v in sorted(flow["runs"].items())) or "-"
            table.add_row(
                flow["name"], "yes" if flow["enabled"] else "no", str(flow["version"]), runs
            )
        console.print(table)
    finally:
        ws.close()


@flow_app.command("enable")
def enable_flow(
    name: str,
    off: Annotated[bool, typer.Option("--off", help="Disable instead.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Enable (or with --off disable) a flow."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        FlowService(ws).set_enabled(name, not off)
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


@flow_app.command("run")
def run_flow(
    name: str,
    record: Annotated[int | None, typer.Option(help="The record id the run is about.")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key: one run per key.")] = None,
    wait: Annotated[bool, typer.Option(help="Run it here until it pauses or ends.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Start a flow with a manual trigger (as the system, for admins)."""
    from dealcraft.access.principal import SYSTEM
    from dealcraft.flows.engine import FlowEngine

    ws = _workspace(data_dir)
    try:
        engine = FlowEngine(ws)
        run_id = engine.service.start(name, SYSTEM, record_id=record, key=key)
        if run_id is None:
            console.print("a run with this key exists already")
            return
        if wait:
            engine.runner.advance(run_id)
            console.print_json(json.dumps(engine.service.run(run_id), default=str))
        else:
            engine.enqueue([run_id])
            console.print(f"run {run_id} queued")
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


@flow_app.command("dry-run")
def dry_run_flow(
    name: str,
    record: Annotated[
        str | None, typer.Option(help="The record as OBJECT:ID, e.g. lead:42.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """What the flow would do to a record, step by step, without doing any of it."""
    from dealcraft.access.principal import SYSTEM
    from dealcraft.flows.dryrun import dry_run

    object_name, record_id = _record_option(record)
    ws = _workspace(data_dir)
    try:
        result = dry_run(ws, name, object_name, record_id, SYSTEM)
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()
    console.print_json(json.dumps(result, default=str, ensure_ascii=False))


def _record_option(value: str | None) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    object_name, _, record_id = value.partition(":")
    if not object_name or not record_id.isdigit():
        err_console.print(
            f"[red]error[/red] [bold]invalid_record[/bold]: --record is OBJECT:ID, got {value!r}"
        )
        raise typer.Exit(2)
    return object_name, int(record_id)


@flow_app.command("show")
def show_run(run_id: int, data_dir: DataDir = None) -> None:
    """A run step by step: input, output, timing and log lines."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        console.print_json(json.dumps(FlowService(ws).run(run_id), default=str))
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


@flow_app.command("retry")
def retry_run(run_id: int, data_dir: DataDir = None) -> None:
    """Try a parked run's failed step again."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        FlowService(ws).retry(run_id)
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


@flow_app.command("cancel")
def cancel_run(run_id: int, data_dir: DataDir = None) -> None:
    """Cancel a run that has not finished."""
    from dealcraft.flows.service import FlowService

    ws = _workspace(data_dir)
    try:
        FlowService(ws).cancel(run_id)
    except DealcraftError as e:
        _fail(e)
    finally:
        ws.close()


def worker_command(
    workers: Annotated[int, typer.Option(help="Threads advancing runs.")] = 4,
    data_dir: DataDir = None,
) -> None:
    """Run the background worker: the flow queue's consumer and the outbox pump."""
    from dealcraft.flows.engine import run_worker

    ws = _workspace(data_dir)
    try:
        run_worker(ws, workers=workers)
    finally:
        ws.close()

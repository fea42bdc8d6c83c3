"""``dealcraft serve --with-worker`` (and the demo) run the flow worker as a child process."""

from __future__ import annotations

import time

from dealcraft.access.principal import SYSTEM
from dealcraft.cli import _start_worker, _stop_worker
from dealcraft.flows.service import FlowService

FOLLOW_UP = {
    "name": "account_follow_up",
    "run_as": "flow_bot",
    "trigger": {"type": "manual", "object": "account"},
    "steps": [
        {"id": "task", "type": "create_task", "subject": "Call {{record.name}}", "due": "1d"},
    ],
}


def test_worker_child_process_completes_a_manual_run_and_stops(crm_sqlite, monkeypatch):
    # Given an enabled flow in a workspace the child worker can open
    monkeypatch.setenv("DEALCRAFT_DATABASE_URL", str(crm_sqlite.settings.database_url))
    monkeypatch.setenv("DEALCRAFT_ENV", "test")
    service = FlowService(crm_sqlite)
    service.ensure_service_account("flow_bot", "sales_director")
    service.save(FOLLOW_UP)
    service.set_enabled("account_follow_up", True)
    account = crm_sqlite.records.create(SYSTEM, "account", {"name": "Worker Co"})

    # When the server's worker is running and someone starts the flow on the account
    worker = _start_worker(crm_sqlite.settings.data_dir)
    try:
        run_id = service.start("account_follow_up", SYSTEM, record_id=account["id"])
        assert run_id is not None
        deadline = time.monotonic() + 60
        while service.run(run_id)["status"] not in ("completed", "parked", "failed"):
            assert worker.poll() is None, "the worker exited while the run was pending"
            assert time.monotonic() < deadline, service.run(run_id)
            time.sleep(0.2)
    finally:
        _stop_worker(worker)

    # Then the run completed in the child process, which stopped when asked
    assert service.run(run_id)["status"] == "completed"
    tasks = crm_sqlite.records.list(SYSTEM, "task", where="subject = 'Call Worker Co'")
    assert len(tasks.data) == 1
    assert worker.returncode is not None

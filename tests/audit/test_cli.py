"""``dealcraft audit verify | purge | heads`` on a SQLite workspace."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dealcraft.audit import AuditLog
from dealcraft.audit.cli import audit_app
from dealcraft.db import migrate
from dealcraft.db.engine import create_engine

from .conftest import append, row, tamper

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data directory whose SQLite database holds four audit entries."""
    monkeypatch.delenv("DEALCRAFT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DEALCRAFT_DATA_DIR", str(tmp_path))
    engine = create_engine(f"sqlite:///{tmp_path / 'dealcraft.db'}")
    migrate.upgrade(engine)
    append(engine, AuditLog(), 4, shard=3, action="auth.login", category="auth")
    engine.dispose()
    return tmp_path


def open_engine(data_dir):
    return create_engine(f"sqlite:///{data_dir / 'dealcraft.db'}")


def test_verify_command_untouched_prints_ok(data_dir):
    result = runner.invoke(audit_app, ["verify", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    assert "OK: 4 audit entries verified" in result.output


def test_verify_command_tampered_exits_1_naming_the_entry(data_dir):
    engine = open_engine(data_dir)
    target = row(engine, 3, 2)
    tamper(engine, "UPDATE dc_audit SET actor_id = 1 WHERE id = :id", id=target["id"])
    engine.dispose()

    result = runner.invoke(audit_app, ["verify", "--data-dir", str(data_dir)])

    assert result.exit_code == 1
    assert f"TAMPERED: entry id {target['id']} (shard 3, seq 2)" in result.output
    assert "edited" in result.output


def test_purge_command_purges_expired_and_keeps_verify_ok(data_dir):
    result = runner.invoke(
        audit_app, ["purge", "--years", "auth=0", "--years", "data=5", "--data-dir", str(data_dir)]
    )

    assert result.exit_code == 0, result.output
    assert "purged 4 audit entries" in result.output
    verified = runner.invoke(audit_app, ["verify", "--data-dir", str(data_dir)])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize("years", ["auth", "auth=two", "=3"])
def test_purge_command_with_bad_years_exits_2(data_dir, years):
    result = runner.invoke(audit_app, ["purge", "--years", years, "--data-dir", str(data_dir)])

    assert result.exit_code == 2


def test_heads_then_verify_with_checkpoint_catches_rewound_tail(data_dir, tmp_path):
    # Given the heads saved outside the database
    heads = runner.invoke(audit_app, ["heads", "--data-dir", str(data_dir)])
    assert heads.exit_code == 0, heads.output
    document = json.loads(heads.output)
    assert document["heads"][3]["seq"] == 4
    saved = tmp_path / "heads.json"
    saved.write_text(heads.output, encoding="utf-8")

    # When the tail entry is deleted and the head rewound to match
    engine = open_engine(data_dir)
    previous = row(engine, 3, 3)
    tamper(engine, "DELETE FROM dc_audit WHERE shard = 3 AND seq = 4")
    tamper(
        engine, "UPDATE dc_audit_head SET seq = 3, hash = :h WHERE shard = 3", h=previous["hash"]
    )
    engine.dispose()

    # Then only the checkpoint reveals it
    plain = runner.invoke(audit_app, ["verify", "--data-dir", str(data_dir)])
    assert plain.exit_code == 0
    checked = runner.invoke(
        audit_app, ["verify", "--data-dir", str(data_dir), "--checkpoint", str(saved)]
    )
    assert checked.exit_code == 1
    assert "present at the checkpoint, is gone" in checked.output

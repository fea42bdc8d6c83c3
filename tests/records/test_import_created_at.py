"""Stories of importing history: an admin may keep the creation date a record had elsewhere.

``keep_created_at`` back-dates new records (so a sales cycle can be measured from data
imported from another CRM); everyone but an admin or the system is refused, every kept date
is checked, and the history and audit trail say who supplied it.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_fast import persona

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.errors import Forbidden, InvalidInput, Unauthorized
from dealcraft.records import transfer
from dealcraft.records.service import ImportRejected


@pytest.fixture
def admin_ada(crm):
    return persona(crm, "admin_ada")


@pytest.fixture
def rep_east(crm):
    return persona(crm, "rep_east")


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def deals(ws) -> list[dict]:
    return ws.records.list(SYSTEM, "opportunity", limit=500, sort="id").data


def a_minute_ago() -> str:
    """A moment in the record's own format: records created after it were created now."""
    return (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


HISTORY = [
    ["name", "stage", "close_date", "created_at"],
    ["宁波港务 MES 一期", "won", "2025-06-30", "2025-03-01"],
    ["Lakeside EHS pilot", "lost", "2025-05-15", "2025-01-10T09:30:00+08:00"],
]


# Keeping the date ----------------------------------------------------------------------------


def test_import_deals_keeping_created_at_as_admin_backdates_them(crm, admin_ada, tmp_path):
    # Given a file of closed deals exported from another CRM, with their creation dates
    source = write_csv(tmp_path / "history.csv", HISTORY)

    # When admin_ada imports it keeping the creation dates
    result = transfer.import_file(
        crm.records, admin_ada, "opportunity", source, keep_created_at=True
    )

    # Then the records were created on those dates: a date is midnight UTC, a zone is UTC
    assert result.created == 2
    first, second = deals(crm)
    assert first["created_at"] == "2025-03-01T00:00:00Z"
    assert second["created_at"] == "2025-01-10T01:30:00Z"
    # while the last change is the import itself, by admin_ada
    assert first["updated_at"] > a_minute_ago()
    assert first["created_by"] == admin_ada.user_id


def test_import_deals_keeping_created_at_says_so_in_history_and_audit(crm, admin_ada, tmp_path):
    # Given admin_ada imported closed deals keeping their creation dates
    source = write_csv(tmp_path / "history.csv", HISTORY)
    result = transfer.import_file(
        crm.records, admin_ada, "opportunity", source, keep_created_at=True
    )
    first_id = result.ids[0]

    # When the record's history and the audit trail are read
    (created,) = crm.records.history(admin_ada, "opportunity", first_id)
    (entry,) = crm.audit.query(crm.engine, object_name="opportunity", action="record.create")

    # Then the create entry names the supplied date and who supplied it, dated when written
    assert created["operation"] == "create"
    assert created["created_at_supplied"] == {
        "created_at": "2025-03-01T00:00:00Z",
        "supplied_by": "admin_ada",
    }
    assert created["changed_by"] == admin_ada.user_id
    assert created["changed_at"] > created["created_at_supplied"]["created_at"]
    assert created["new_value"]["name"] == "宁波港务 MES 一期"
    # and the batch's audit entry says how many dates were supplied, by whom, which span
    assert entry["actor_id"] == admin_ada.user_id
    assert entry["data"]["created_at_supplied"] == {
        "by": "admin_ada",
        "count": 2,
        "earliest": "2025-01-10T01:30:00Z",
        "latest": "2025-03-01T00:00:00Z",
    }


def test_bulk_create_one_deal_keeping_created_at_audits_the_supplied_date(crm):
    # Given the system principal (the demo builder, a migration) writing one historic deal
    rows = [{"name": "Legacy deal", "created_at": datetime(2024, 11, 5, 10, 0, tzinfo=UTC)}]

    # When it is created keeping its date
    result = crm.records.bulk_create(SYSTEM, "opportunity", rows, keep_created_at=True)

    # Then the single create's history and audit entries say the date was supplied
    (record,) = deals(crm)
    assert record["created_at"] == "2024-11-05T10:00:00Z"
    (created,) = crm.records.history(SYSTEM, "opportunity", result.ids[0])
    assert created["created_at_supplied"]["supplied_by"] == "system"
    (entry,) = crm.audit.query(
        crm.engine, object_name="opportunity", record_id=result.ids[0], action="record.create"
    )
    assert entry["data"]["new"]["name"] == "Legacy deal"
    assert entry["data"]["created_at_supplied"]["earliest"] == "2024-11-05T10:00:00Z"


def test_import_with_key_keeping_created_at_leaves_existing_records_creation_alone(
    crm, admin_ada, tmp_path
):
    # Given a deal already in Dealcraft, and a file that updates it and adds another
    existing = crm.records.create(admin_ada, "opportunity", {"name": "MES rollout"})
    source = write_csv(
        tmp_path / "history.csv",
        [
            ["name", "amount", "created_at"],
            ["MES rollout", "480000", "2024-01-01"],
            ["EHS pilot", "25000", "2024-02-01"],
        ],
    )

    # When admin_ada imports it on the name, keeping creation dates
    result = transfer.import_file(
        crm.records, admin_ada, "opportunity", source, key="name", keep_created_at=True
    )

    # Then the existing deal is updated but keeps its own creation date; the new one is kept
    assert (result.created, result.updated) == (1, 1)
    updated, added = deals(crm)
    assert updated["created_at"] == existing["created_at"]
    assert updated["amount"] == 480000
    assert added["created_at"] == "2024-02-01T00:00:00Z"


def test_import_keeping_created_at_maps_a_chinese_header_or_an_explicit_column(
    crm, admin_ada, tmp_path
):
    # Given files naming the creation date 创建时间, and "Opened on"
    chinese = write_csv(tmp_path / "商机.csv", [["商机名称", "创建时间"], ["A 项目", "2025-02-03"]])
    english = write_csv(tmp_path / "deals.csv", [["name", "Opened on"], ["B", "2025-02-04"]])

    # When each is imported keeping creation dates (the second with a mapping)
    transfer.import_file(crm.records, admin_ada, "opportunity", chinese, keep_created_at=True)
    transfer.import_file(
        crm.records,
        admin_ada,
        "opportunity",
        english,
        keep_created_at=True,
        mapping={"Opened on": "created_at"},
    )

    # Then both kept their dates
    assert [d["created_at"] for d in deals(crm)] == [
        "2025-02-03T00:00:00Z",
        "2025-02-04T00:00:00Z",
    ]


# Refusals ------------------------------------------------------------------------------------


def test_import_keeping_created_at_as_rep_is_refused_and_nothing_written(crm, rep_east, tmp_path):
    # Given rep_east, who may import deals but is no admin
    source = write_csv(tmp_path / "history.csv", HISTORY)

    # When rep_east asks to keep the creation dates
    with pytest.raises(Forbidden) as error:
        transfer.import_file(crm.records, rep_east, "opportunity", source, keep_created_at=True)

    # Then it is refused with the code, naming the field, and nothing is written
    assert error.value.status == 403
    assert error.value.code == "audit_fields_not_allowed"
    assert error.value.details["field"] == "created_at"
    assert "rep_east" in error.value.message and "sales_rep" in error.value.message
    assert deals(crm) == []
    (denied,) = crm.audit.query(crm.engine, action="access.denied", actor_id=rep_east.user_id)
    assert denied["data"] == {"operation": "keep_created_at", "code": "audit_fields_not_allowed"}


def test_bulk_create_keeping_created_at_as_director_is_refused(crm):
    # Given director_east, who works every sales record but is no admin
    director_east = persona(crm, "director_east")

    # When the director writes a back-dated row through the record service
    with pytest.raises(Forbidden) as error:
        crm.records.bulk_create(
            director_east,
            "opportunity",
            [{"name": "Back-dated", "created_at": "2024-01-01"}],
            keep_created_at=True,
        )

    # Then it is refused before any row is read
    assert error.value.code == "audit_fields_not_allowed"
    assert deals(crm) == []


def test_import_keeping_created_at_signed_out_is_refused_as_unauthorized(crm, tmp_path):
    # Given someone who is not signed in
    stranger = Principal(user_id=None, username="stranger")
    source = write_csv(tmp_path / "history.csv", HISTORY)

    # When they ask to keep creation dates
    with pytest.raises(Unauthorized) as error:
        transfer.import_file(crm.records, stranger, "opportunity", source, keep_created_at=True)

    # Then they hear what every other request of theirs hears
    assert error.value.code == "unauthorized"
    assert deals(crm) == []


def test_cli_import_keeping_created_at_as_system_or_as_rep(crm, tmp_path, monkeypatch):
    # Given the command line on this workspace, and a file of historical deals
    from typer.testing import CliRunner

    from dealcraft.cli import app

    monkeypatch.setenv("DEALCRAFT_DATABASE_URL", crm.settings.database_url)
    monkeypatch.setenv("DEALCRAFT_ENV", "test")
    source = write_csv(tmp_path / "history.csv", HISTORY)
    data_dir = str(crm.settings.data_dir)

    def run(*args: str):
        return CliRunner().invoke(
            app, ["import", "opportunity", str(source), *args, "--data-dir", data_dir]
        )

    # When rep_east, then the system user (the default) import it keeping the dates
    refused = run("--keep-created-at", "--as", "rep_east")
    kept = run("--keep-created-at")

    # Then the rep is refused with the code, and the system import keeps the dates
    assert refused.exit_code == 1
    assert "audit_fields_not_allowed" in refused.output
    assert kept.exit_code == 0, kept.output
    assert "created 2" in kept.output
    assert [d["created_at"] for d in deals(crm)] == [
        "2025-03-01T00:00:00Z",
        "2025-01-10T01:30:00Z",
    ]


def test_import_with_a_future_created_at_is_refused_naming_row_and_value(crm, admin_ada, tmp_path):
    # Given a file whose second row was created tomorrow
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    source = write_csv(
        tmp_path / "history.csv",
        [["name", "created_at"], ["Past", "2025-01-01"], ["Future", tomorrow]],
    )

    # When admin_ada imports it keeping creation dates
    with pytest.raises(ImportRejected) as error:
        transfer.import_file(crm.records, admin_ada, "opportunity", source, keep_created_at=True)

    # Then the row is rejected with the code, the date and the column; nothing is written
    (rejected,) = error.value.rejected
    assert (rejected.row, rejected.field, rejected.code) == (
        2,
        "created_at",
        "created_at_in_future",
    )
    assert rejected.column == "created_at"
    assert rejected.message == (
        f"created_at {tomorrow}T00:00:00Z is in the future; a kept creation date must be before now"
    )
    assert deals(crm) == []


def test_import_with_a_bad_created_at_is_refused_with_its_row(crm, admin_ada, tmp_path):
    # Given a file with a creation date nobody can read, in row 1, and a bad stage in row 2
    source = write_csv(
        tmp_path / "history.csv",
        [["name", "stage", "created_at"], ["A", "won", "last spring"], ["B", "nope", "2025-01-01"]],
    )

    # When admin_ada imports it keeping creation dates
    with pytest.raises(ImportRejected) as error:
        transfer.import_file(crm.records, admin_ada, "opportunity", source, keep_created_at=True)

    # Then each row is rejected with its own error, and nothing is written
    assert [(e.row, e.field, e.code) for e in error.value.rejected] == [
        (1, "created_at", "invalid_datetime"),
        (2, "stage", "invalid_choice"),
    ]
    assert "'last spring' is not a date-time" in error.value.rejected[0].message
    assert deals(crm) == []


def test_import_skipping_bad_rows_keeps_the_good_rows_dates(crm, admin_ada, tmp_path):
    # Given a file with one unreadable creation date among good ones
    source = write_csv(
        tmp_path / "history.csv",
        [["name", "created_at"], ["A", "2025-01-01"], ["B", "31/02/2025"], ["C", ""]],
    )

    # When admin_ada imports the good rows
    result = transfer.import_file(
        crm.records, admin_ada, "opportunity", source, keep_created_at=True, skip_bad_rows=True
    )

    # Then A keeps its date, C (blank) is created now, B is reported
    assert [(e.row, e.code) for e in result.rejected] == [(2, "invalid_datetime")]
    a, c = deals(crm)
    assert a["created_at"] == "2025-01-01T00:00:00Z"
    assert c["created_at"] > a_minute_ago()
    assert [d["name"] for d in (a, c)] == ["A", "C"]


def test_import_keeping_created_at_without_such_a_column_is_refused(crm, admin_ada, tmp_path):
    source = write_csv(tmp_path / "deals.csv", [["name"], ["A"]])

    with pytest.raises(InvalidInput) as error:
        transfer.import_file(crm.records, admin_ada, "opportunity", source, keep_created_at=True)

    assert error.value.code == "created_at_not_mapped"
    assert deals(crm) == []


# Without the flag, as before -----------------------------------------------------------------


def test_import_created_at_column_without_the_flag_is_ignored(crm, admin_ada, tmp_path):
    # Given a file with a created_at column (an export of another workspace, say)
    source = write_csv(tmp_path / "history.csv", HISTORY)

    # When admin_ada imports it without asking to keep the dates
    result = transfer.import_file(crm.records, admin_ada, "opportunity", source)

    # Then the column is ignored, like every platform column: the records are created now
    assert result.created == 2
    assert all(d["created_at"] > a_minute_ago() for d in deals(crm))
    (created, *_rest) = crm.records.history(admin_ada, "opportunity", result.ids[0])
    assert "created_at_supplied" not in created


def test_bulk_create_created_at_without_the_flag_is_refused_as_read_only(crm, admin_ada):
    # When admin_ada writes a created_at through the record service without the flag
    with pytest.raises(ImportRejected) as error:
        crm.records.bulk_create(
            admin_ada, "opportunity", [{"name": "A", "created_at": "2025-01-01"}]
        )

    # Then it is refused as a platform column, as it always was
    (rejected,) = error.value.rejected
    assert (rejected.row, rejected.field, rejected.code) == (1, "created_at", "read_only_field")
    assert deals(crm) == []

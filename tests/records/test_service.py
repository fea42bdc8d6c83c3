"""Stories of the record service: every write keeps its history and event, or nothing at all."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from fixtures_fast import persona

from dealcraft.errors import (
    DealcraftError,
    InvalidInput,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from dealcraft.records.service import ImportRejected, RecordService


@pytest.fixture
def director_east(crm):
    return persona(crm, "director_east")


@pytest.fixture
def director_south(crm):
    return persona(crm, "director_south")


@pytest.fixture
def sq_director_east(crm_sqlite):
    return persona(crm_sqlite, "director_east")


def _trail(ws, object_name: str, record_id: int | None = None) -> tuple[list[dict], list[dict]]:
    """The dc_history and dc_outbox rows of one record (or of the whole object)."""
    with ws.engine.connect() as conn:
        out = []
        for table in ("dc_history", "dc_outbox"):
            query = f"SELECT * FROM {table} WHERE object_name = :o"
            params = {"o": object_name}
            if record_id is not None:
                query += " AND record_id = :r"
                params["r"] = record_id
            rows = conn.execute(sa.text(query + " ORDER BY id"), params).mappings().all()
            out.append([dict(r) for r in rows])
    return out[0], out[1]


def _json(value):
    """JSON columns come back decoded on PostgreSQL and as text through sa.text on SQLite."""
    import json

    return json.loads(value) if isinstance(value, str) else value


# --- create ---------------------------------------------------------------------------------


def test_create_opportunity_stores_history_and_outbox_event(crm, director_east):
    # when director_east creates an opportunity
    deal = crm.records.create(
        director_east,
        "opportunity",
        {"name": "Shanghai MRI", "amount": 120000, "stage": "proposal"},
    )

    # then the record carries its system fields and defaults
    assert deal["version"] == 1
    assert deal["created_by"] == deal["updated_by"] == director_east.user_id
    assert deal["created_at"].endswith("Z") and deal["amount_currency"] == "CNY"

    # and one history row holds every initial value, who and when
    history, outbox = _trail(crm, "opportunity", deal["id"])
    assert [(h["operation"], h["field"], h["version"], h["changed_by"]) for h in history] == [
        ("create", None, 1, director_east.user_id)
    ]
    # and the record's history shows its initial values
    initial = crm.records.history(director_east, "opportunity", deal["id"])[0]
    assert (initial["operation"], initial["changed_by"]) == ("create", director_east.user_id)
    assert initial["new_value"]["name"] == "Shanghai MRI"
    assert initial["new_value"]["amount"] == 120000

    # and one outbox event announces it
    assert [(e["event_type"], e["actor_id"], e["delivered_at"]) for e in outbox] == [
        ("record.created", director_east.user_id, None)
    ]
    assert _json(outbox[0]["payload"])["version"] == 1


def test_create_with_invalid_value_writes_no_history_or_event(crm, director_east):
    with pytest.raises(ValidationFailed) as refused:
        crm.records.create(director_east, "opportunity", {"name": "Bad", "stage": "closing"})
    assert refused.value.code == "invalid_choice"
    assert crm.records.count(director_east, "opportunity") == 0
    assert _trail(crm, "opportunity") == ([], [])


def test_create_on_missing_object_is_refused(crm_sqlite, sq_director_east):
    with pytest.raises(NotFound) as refused:
        crm_sqlite.records.create(sq_director_east, "planet", {"name": "Mars"})
    assert (refused.value.code, refused.value.status) == ("object_not_found", 404)


def test_create_with_body_that_is_not_an_object_is_refused(crm_sqlite, sq_director_east):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.records.create(sq_director_east, "account", ["name", "Acme"])
    assert refused.value.code == "invalid_body"


# --- update ---------------------------------------------------------------------------------


def test_update_opportunity_changes_only_given_fields_and_records_old_and_new(
    crm, director_east, director_south
):
    # given director_east's opportunity
    deal = crm.records.create(
        director_east, "opportunity", {"name": "Chengdu CT", "amount": 50000, "probability": 20}
    )

    # when director_south raises the amount
    updated = crm.records.update(director_south, "opportunity", deal["id"], {"amount": 80000})

    # then only the amount changed, the version went up and director_south is the last editor
    assert (updated["amount"], updated["probability"], updated["name"]) == (80000, 20, "Chengdu CT")
    assert (updated["version"], updated["updated_by"]) == (2, director_south.user_id)
    assert updated["weighted_amount"] == 16000

    # and history says who changed what from what to what, with one event
    history, outbox = _trail(crm, "opportunity", deal["id"])
    change = history[-1]
    assert (change["operation"], change["field"], change["version"]) == ("update", "amount", 2)
    assert (_json(change["old_value"]), _json(change["new_value"])) == (50000, 80000)
    assert change["changed_by"] == director_south.user_id and change["changed_at"] is not None
    assert [e["event_type"] for e in outbox] == ["record.created", "record.updated"]
    assert _json(outbox[-1]["payload"])["changes"] == {"amount": [50000, 80000]}


def test_update_with_same_values_changes_nothing(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(
        sq_director_east, "opportunity", {"name": "Same", "amount": 10}
    )
    again = crm_sqlite.records.update(sq_director_east, "opportunity", deal["id"], {"amount": "10"})
    assert again["version"] == 1
    history, outbox = _trail(crm_sqlite, "opportunity", deal["id"])
    assert (len(history), len(outbox)) == (1, 1)


def test_update_with_stale_version_is_refused_and_nothing_is_overwritten(
    crm, director_east, director_south
):
    # given director_east read version 1, then director_south saved version 2
    deal = crm.records.create(director_east, "opportunity", {"name": "Xiamen", "amount": 100})
    crm.records.update(
        director_south, "opportunity", deal["id"], {"amount": 200}, expected_version=1
    )
    trail = _trail(crm, "opportunity", deal["id"])

    # when director_east saves with the version read
    with pytest.raises(VersionConflict) as refused:
        crm.records.update(
            director_east, "opportunity", deal["id"], {"amount": 999}, expected_version=1
        )

    # then it is a version conflict naming both versions, and director_south's value stands
    assert (refused.value.code, refused.value.status) == ("version_conflict", 409)
    assert (refused.value.details["expected"], refused.value.details["current"]) == (1, 2)
    current = crm.records.get(director_east, "opportunity", deal["id"])
    assert (current["amount"], current["version"]) == (200, 2)
    assert _trail(crm, "opportunity", deal["id"]) == trail


def test_update_with_stale_version_in_body_is_refused(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(sq_director_east, "opportunity", {"name": "Body", "amount": 1})
    crm_sqlite.records.update(sq_director_east, "opportunity", deal["id"], {"amount": 2})
    with pytest.raises(VersionConflict) as refused:
        crm_sqlite.records.update(
            sq_director_east, "opportunity", deal["id"], {"amount": 3, "version": 1}
        )
    assert refused.value.code == "version_conflict"
    assert crm_sqlite.records.get(sq_director_east, "opportunity", deal["id"])["amount"] == 2


def test_update_with_invalid_value_leaves_record_history_and_outbox_unchanged(crm, director_east):
    deal = crm.records.create(director_east, "opportunity", {"name": "Kunming", "probability": 40})
    trail = _trail(crm, "opportunity", deal["id"])

    # when one good and one bad field are sent together
    with pytest.raises(ValidationFailed) as refused:
        crm.records.update(
            director_east, "opportunity", deal["id"], {"name": "Kunming 2", "probability": 140}
        )

    # then neither is applied
    assert (refused.value.code, refused.value.details["field"]) == (
        "number_too_large",
        "probability",
    )
    current = crm.records.get(director_east, "opportunity", deal["id"])
    assert (current["name"], current["probability"], current["version"]) == ("Kunming", 40, 1)
    assert _trail(crm, "opportunity", deal["id"]) == trail


def test_update_missing_record_is_refused(crm_sqlite, sq_director_east):
    with pytest.raises(NotFound) as refused:
        crm_sqlite.records.update(sq_director_east, "opportunity", 4242, {"amount": 1})
    assert (refused.value.code, refused.value.details) == (
        "record_not_found",
        {"object": "opportunity", "id": 4242},
    )


def test_update_clearing_required_field_is_refused(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(sq_director_east, "opportunity", {"name": "Keep"})
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.records.update(sq_director_east, "opportunity", deal["id"], {"name": ""})
    assert (refused.value.code, refused.value.details["field"]) == ("required", "name")
    assert crm_sqlite.records.get(sq_director_east, "opportunity", deal["id"])["name"] == "Keep"


def test_two_concurrent_updates_with_one_version_let_exactly_one_win(
    crm, director_east, director_south
):
    # given both reps read version 1 of the same opportunity
    deal = crm.records.create(director_east, "opportunity", {"name": "Race", "amount": 1})
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def save(who, amount):
        start.wait()
        try:
            crm.records.update(
                who, "opportunity", deal["id"], {"amount": amount}, expected_version=1
            )
            outcome[who.username] = "saved"
        except DealcraftError as e:
            outcome[who.username] = e.code

    # when they save at the same moment
    threads = [
        threading.Thread(target=save, args=(director_east, 100)),
        threading.Thread(target=save, args=(director_south, 200)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    # then one save wins and the other is told of the conflict
    assert sorted(outcome.values()) == ["saved", "version_conflict"]
    winner = next(name for name, result in outcome.items() if result == "saved")
    current = crm.records.get(director_east, "opportunity", deal["id"])
    assert current["amount"] == {"director_east": 100, "director_south": 200}[winner]
    assert current["version"] == 2
    history, outbox = _trail(crm, "opportunity", deal["id"])
    assert [h["operation"] for h in history] == ["create", "update"]
    assert len(outbox) == 2


def test_concurrent_updates_of_different_fields_both_apply(crm, director_east, director_south):
    # given an opportunity, and many saves of two fields racing without a version
    deal = crm.records.create(director_east, "opportunity", {"name": "Both", "amount": 0})
    start = threading.Barrier(2)

    def save(who, data):
        start.wait()
        crm.records.update(who, "opportunity", deal["id"], data)

    threads = [
        threading.Thread(target=save, args=(director_east, {"amount": 500})),
        threading.Thread(target=save, args=(director_south, {"probability": 30})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    # then neither change is lost
    current = crm.records.get(director_east, "opportunity", deal["id"])
    assert (current["amount"], current["probability"], current["version"]) == (500, 30, 3)


# --- delete and restore ---------------------------------------------------------------------


def test_delete_opportunity_hides_it_and_restore_brings_it_back(crm, director_east):
    # given an opportunity
    deal = crm.records.create(director_east, "opportunity", {"name": "Harbin", "amount": 7})

    # when it is deleted
    crm.records.delete(director_east, "opportunity", deal["id"], expected_version=1)

    # then it is gone from get, list and count, but kept in the table
    with pytest.raises(NotFound) as gone:
        crm.records.get(director_east, "opportunity", deal["id"])
    assert gone.value.code == "record_not_found"
    assert crm.records.list(director_east, "opportunity").data == []
    assert crm.records.count(director_east, "opportunity") == 0
    kept = crm.records.get(director_east, "opportunity", deal["id"], include_deleted=True)
    assert kept["deleted_at"] is not None and kept["version"] == 2

    # when it is restored, it is back with its values and a new version
    restored = crm.records.restore(director_east, "opportunity", deal["id"])
    assert (restored["amount"], restored["version"]) == (7, 3) and "deleted_at" not in restored

    # and history and outbox tell the whole story
    history, outbox = _trail(crm, "opportunity", deal["id"])
    assert [h["operation"] for h in history] == ["create", "delete", "restore"]
    assert [e["event_type"] for e in outbox] == [
        "record.created",
        "record.deleted",
        "record.restored",
    ]


def test_delete_with_stale_version_is_refused_and_record_stays(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(sq_director_east, "opportunity", {"name": "Stay"})
    crm_sqlite.records.update(sq_director_east, "opportunity", deal["id"], {"amount": 5})
    trail = _trail(crm_sqlite, "opportunity", deal["id"])
    with pytest.raises(VersionConflict) as refused:
        crm_sqlite.records.delete(sq_director_east, "opportunity", deal["id"], expected_version=1)
    assert refused.value.code == "version_conflict"
    assert crm_sqlite.records.get(sq_director_east, "opportunity", deal["id"])["version"] == 2
    assert _trail(crm_sqlite, "opportunity", deal["id"]) == trail


def test_delete_twice_is_refused(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(sq_director_east, "opportunity", {"name": "Twice"})
    crm_sqlite.records.delete(sq_director_east, "opportunity", deal["id"])
    with pytest.raises(NotFound) as refused:
        crm_sqlite.records.delete(sq_director_east, "opportunity", deal["id"])
    assert refused.value.code == "record_not_found"


def test_update_deleted_record_is_refused(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(sq_director_east, "opportunity", {"name": "Gone"})
    crm_sqlite.records.delete(sq_director_east, "opportunity", deal["id"])
    with pytest.raises(NotFound) as refused:
        crm_sqlite.records.update(sq_director_east, "opportunity", deal["id"], {"amount": 1})
    assert refused.value.code == "record_not_found"


def test_history_of_record_lists_changes_oldest_first(crm_sqlite, sq_director_east):
    deal = crm_sqlite.records.create(
        sq_director_east, "opportunity", {"name": "H", "stage": "proposal"}
    )
    crm_sqlite.records.update(
        sq_director_east, "opportunity", deal["id"], {"stage": "won", "amount": 9}
    )
    entries = crm_sqlite.records.history(sq_director_east, "opportunity", deal["id"])
    assert [(e["operation"], e["field"]) for e in entries] == [
        ("create", None),
        ("update", "stage"),
        ("update", "amount"),
        ("update", "amount_currency"),
    ]
    assert (entries[1]["old_value"], entries[1]["new_value"]) == ("proposal", "won")
    assert entries[-1]["changed_by"] == sq_director_east.user_id


# --- effects after commit -------------------------------------------------------------------


def test_after_commit_hook_sees_committed_outbox_and_is_not_called_on_failure(crm_sqlite):
    # given a record service whose hook looks for the event from another connection
    seen: list[tuple[str, int]] = []

    def hook(events):
        with crm_sqlite.engine.connect() as conn:
            stored = conn.execute(
                sa.text(
                    "SELECT count(*) FROM dc_outbox WHERE object_name = 'account' "
                    "AND record_id = :r"
                ),
                {"r": events[0]["record_id"]},
            ).scalar()
        seen.extend((e["event_type"], stored) for e in events)

    service = RecordService(crm_sqlite.engine, crm_sqlite.registry, after_commit=hook)
    rep = persona(crm_sqlite, "director_east")

    # when one write succeeds and one fails
    service.create(rep, "account", {"name": "Hooked"})
    with pytest.raises(ValidationFailed):
        service.create(rep, "account", {"name": "Bad", "website": "nope"})

    # then the hook ran once, after its event was committed
    assert seen == [("record.created", 1)]


# --- list and count -------------------------------------------------------------------------


def test_list_opportunities_with_where_and_sort(crm, director_east):
    for name, amount, stage in [("A", 300, "proposal"), ("B", 100, "won"), ("C", 200, "proposal")]:
        crm.records.create(
            director_east, "opportunity", {"name": name, "amount": amount, "stage": stage}
        )
    page = crm.records.list(
        director_east, "opportunity", where="stage = 'proposal'", sort="-amount"
    )
    assert [r["name"] for r in page.data] == ["A", "C"]
    assert crm.records.count(director_east, "opportunity", where="amount >= 200") == 2


def test_list_with_parameter_does_not_splice_it_into_sql(crm_sqlite, sq_director_east):
    crm_sqlite.records.create(sq_director_east, "account", {"name": "O'Brien Ltd"})
    evil = "x' OR '1'='1"
    page = crm_sqlite.records.list(
        sq_director_east, "account", where="name = :name", params={"name": evil}
    )
    assert page.data == []
    found = crm_sqlite.records.list(
        sq_director_east, "account", where="name = :name", params={"name": "O'Brien Ltd"}
    )
    assert [r["name"] for r in found.data] == ["O'Brien Ltd"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 501}, "invalid_limit"),
        ({"sort": "size"}, "invalid_sort"),
        ({"sort": "competitors"}, "invalid_sort"),
        ({"sort": "-"}, "invalid_sort"),
        ({"where": "amount"}, "expr_type_mismatch"),
        ({"where": "amount >"}, "expr_syntax"),
        ({"where": "size > 1"}, "expr_unknown_field"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ],
)
def test_list_with_bad_parameter_is_refused(crm_sqlite, sq_director_east, kwargs, code):
    with pytest.raises(InvalidInput) as refused:
        crm_sqlite.records.list(sq_director_east, "opportunity", **kwargs)
    assert (refused.value.code, refused.value.status) == (code, 400)
    assert refused.value.details["field"] in ("limit", "sort", "where", "cursor")


# --- bulk create ----------------------------------------------------------------------------


def test_bulk_create_writes_every_row_with_history_and_events(crm, director_east):
    rows = [{"name": f"Bulk {i}", "amount": i * 10} for i in range(1, 6)]
    result = crm.records.bulk_create(director_east, "opportunity", rows)
    assert (result.created, result.updated, result.rejected) == (5, 0, [])
    listed = crm.records.list(director_east, "opportunity", sort="amount")
    assert [r["name"] for r in listed.data] == [r["name"] for r in rows]
    assert sorted(r["id"] for r in listed.data) == sorted(result.ids)
    # One write: one event naming the batch; each record's history shows its creation.
    history, outbox = _trail(crm, "opportunity")
    assert history == []
    assert [e["event_type"] for e in outbox] == ["records.created"]
    payload = outbox[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert sorted(payload["ids"]) == sorted(result.ids)
    for record_id in result.ids:
        entries = crm.records.history(director_east, "opportunity", record_id)
        assert [(e["operation"], e["changed_by"]) for e in entries] == [
            ("create", director_east.user_id)
        ]


def test_bulk_create_with_one_bad_row_writes_nothing(crm, director_east):
    rows = [{"name": "Good 1"}, {"name": "Bad", "close_date": "someday"}, {"name": "Good 2"}]
    with pytest.raises(ImportRejected) as refused:
        crm.records.bulk_create(director_east, "opportunity", rows)
    assert refused.value.code == "import_rejected"
    assert refused.value.details["rejected"] == [
        {
            "row": 2,
            "field": "close_date",
            "code": "invalid_date",
            "message": "close_date: 'someday' is not a date",
        }
    ]
    assert crm.records.count(director_east, "opportunity") == 0
    assert _trail(crm, "opportunity") == ([], [])


def test_bulk_create_with_missing_reference_writes_nothing(crm_sqlite, sq_director_east):
    rows = [{"name": "Fine"}, {"name": "Orphan", "account": 9999}]
    with pytest.raises(ImportRejected) as refused:
        crm_sqlite.records.bulk_create(sq_director_east, "opportunity", rows)
    assert [(r["row"], r["code"]) for r in refused.value.details["rejected"]] == [
        (2, "invalid_reference")
    ]
    assert crm_sqlite.records.count(sq_director_east, "opportunity") == 0


def test_bulk_create_skipping_bad_rows_writes_the_good_ones(crm_sqlite, sq_director_east):
    rows = [
        {"name": "Good 1"},
        {"name": "Bad date", "close_date": "someday"},
        {"name": "Orphan", "account": 9999},
        {"name": "Good 2"},
    ]
    result = crm_sqlite.records.bulk_create(
        sq_director_east, "opportunity", rows, skip_bad_rows=True
    )
    assert result.created == 2
    assert [(r.row, r.code) for r in result.rejected] == [
        (2, "invalid_date"),
        (3, "invalid_reference"),
    ]
    names = {r["name"] for r in crm_sqlite.records.list(sq_director_east, "opportunity").data}
    assert names == {"Good 1", "Good 2"}


def test_bulk_create_with_key_updates_matches_and_leaves_defaults_alone(crm, director_east):
    # given a won opportunity and one in proposal
    won = crm.records.create(
        director_east, "opportunity", {"name": "Won deal", "stage": "won", "amount": 100}
    )
    crm.records.create(
        director_east, "opportunity", {"name": "Same", "amount": 5, "stage": "proposal"}
    )

    # when a file keyed on name brings a new amount for the won one, the same values for the
    # other and a new deal
    result = crm.records.bulk_create(
        director_east,
        "opportunity",
        [{"name": "Won deal", "amount": 150}, {"name": "Same", "amount": 5}, {"name": "New"}],
        key="name",
    )

    # then the match is updated without resetting its stage to the default
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    current = crm.records.get(director_east, "opportunity", won["id"])
    assert (current["amount"], current["stage"], current["version"]) == (150, "won", 2)
    new = crm.records.list(director_east, "opportunity", where="name = 'New'").data[0]
    assert new["stage"] == "prospecting"


def test_bulk_create_with_unknown_key_is_refused(crm_sqlite, sq_director_east):
    with pytest.raises(InvalidInput) as refused:
        crm_sqlite.records.bulk_create(
            sq_director_east, "opportunity", [{"name": "x"}], key="weighted_amount"
        )
    assert (refused.value.code, refused.value.details["field"]) == ("invalid_key", "key")
    assert crm_sqlite.records.count(sq_director_east, "opportunity") == 0


def test_bulk_create_reports_progress(crm_sqlite, sq_director_east):
    seen: list[int] = []
    crm_sqlite.records.bulk_create(
        sq_director_east,
        "task",
        [{"subject": f"t{i}"} for i in range(5)],
        batch_size=2,
        progress=seen.append,
    )
    assert seen[-1] == 5 and seen == sorted(seen)
    assert crm_sqlite.records.count(sq_director_east, "task") == 5

"""Stories of sorting and keyset cursors: walking every page shows every row once, in order."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from fixtures_fast import persona

from dealcraft.errors import InvalidInput
from dealcraft.records.cursor import SortKey, decode_cursor, encode_cursor, parse_sort

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
STAGES = ["prospecting", "proposal", "negotiation", "won", "lost", None]


@pytest.fixture
def director_east(crm):
    return persona(crm, "director_east")


@pytest.fixture
def pipeline(crm, director_east):
    """Forty opportunities with repeated names and amounts, and NULLs in every sort key."""
    rng = random.Random(20240501)
    rows = []
    for _ in range(40):
        rows.append(
            {
                "name": rng.choice(NAMES),
                "amount": rng.choice([None, 100, 250, 250.5, 1000, 99999]),
                "probability": rng.choice([None, 10, 50]),
                "stage": rng.choice(STAGES),
                "close_date": rng.choice([None, "2024-01-31", "2024-06-30", "2025-02-28"]),
            }
        )
    crm.records.bulk_create(director_east, "opportunity", rows)
    return crm.records.list(director_east, "opportunity", limit=500).data


def expected_order(records: list[dict], sort: str) -> list[int]:
    """The documented order: NULL last ascending, first descending, then id ascending."""
    ordered = sorted(records, key=lambda r: r["id"])
    for key in reversed(parse_sort(sort)):
        # Python's sort is stable with reverse=True too, so earlier keys keep ties in order.
        ordered.sort(key=lambda r, k=key: (r[k.name] is None, r[k.name]), reverse=key.descending)
    return [r["id"] for r in ordered]


def walk(ws, principal, sort: str, limit: int, where: str | None = None) -> list[int]:
    ids, cursor, pages = [], None, 0
    while True:
        page = ws.records.list(
            principal, "opportunity", sort=sort, limit=limit, cursor=cursor, where=where
        )
        ids += [r["id"] for r in page.data]
        pages += 1
        assert pages < 100, "the cursor does not advance"
        if page.next_cursor is None:
            return ids
        assert len(page.data) == limit
        cursor = page.next_cursor


@pytest.mark.parametrize(
    "sort",
    [
        "-amount,name",
        "close_date,-name",
        "stage,-close_date,amount",
        "-weighted_amount,-stage",
        "name",
        "-probability,close_date",
    ],
)
def test_walk_all_pages_shows_every_opportunity_once_in_order(crm, director_east, pipeline, sort):
    # when director_east walks every page of seven with a multi-key sort
    ids = walk(crm, director_east, sort, limit=7)

    # then every opportunity appears exactly once, in the documented order
    assert len(ids) == len(set(ids)) == 40
    assert ids == expected_order(pipeline, sort)


def test_walk_pages_with_where_keeps_to_the_filter(crm, director_east, pipeline):
    ids = walk(crm, director_east, "-amount,name", limit=4, where="amount is not null")
    wanted = [r for r in pipeline if r["amount"] is not None]
    assert ids == expected_order(wanted, "-amount,name")


def test_walk_pages_while_a_record_is_added_before_the_cursor_repeats_nothing(
    crm, director_east, pipeline
):
    # given the first page sorted by amount
    first = crm.records.list(director_east, "opportunity", sort="amount,name", limit=10)

    # when a smaller opportunity is created before the cursor, then the walk continues
    crm.records.create(director_east, "opportunity", {"name": "alpha", "amount": 1})
    rest, cursor = [], first.next_cursor
    while cursor:
        page = crm.records.list(
            director_east, "opportunity", sort="amount,name", limit=10, cursor=cursor
        )
        rest += [r["id"] for r in page.data]
        cursor = page.next_cursor

    # then no original row is skipped or repeated
    seen = [r["id"] for r in first.data] + rest
    assert len(seen) == len(set(seen)) == 40


def test_list_without_sort_pages_by_id(crm_sqlite):
    rep = persona(crm_sqlite, "director_east")
    crm_sqlite.records.bulk_create(rep, "task", [{"subject": f"t{i}"} for i in range(5)])
    first = crm_sqlite.records.list(rep, "task", limit=3)
    second = crm_sqlite.records.list(rep, "task", limit=3, cursor=first.next_cursor)
    ids = [r["id"] for r in first.data + second.data]
    assert ids == sorted(ids) and len(ids) == 5 and second.next_cursor is None


def test_cursor_of_another_sort_is_refused(crm_sqlite):
    # given a cursor issued for sort=name
    rep = persona(crm_sqlite, "director_east")
    crm_sqlite.records.bulk_create(rep, "task", [{"subject": f"t{i}"} for i in range(3)])
    cursor = crm_sqlite.records.list(rep, "task", sort="subject", limit=1).next_cursor

    # when it is sent with another sort
    with pytest.raises(InvalidInput) as refused:
        crm_sqlite.records.list(rep, "task", sort="-subject", limit=1, cursor=cursor)

    # then it is refused as a cursor of another order
    assert (refused.value.code, refused.value.details) == ("invalid_cursor", {"field": "cursor"})


# --- the cursor format ----------------------------------------------------------------------


def test_parse_sort_reads_directions_and_skips_blanks():
    assert parse_sort(" -amount, name,,+stage ") == [
        SortKey("amount", True),
        SortKey("name", False),
        SortKey("stage", False),
    ]
    assert parse_sort(None) == [] and parse_sort("") == []


def test_encode_cursor_round_trips_dates_times_and_nulls():
    values = [date(2024, 5, 1), datetime(2024, 5, 1, 10, 30), None, "华东", 12.5]
    cursor = encode_cursor("a,-b,c,d,e", values, 42)
    assert decode_cursor(cursor, "a,-b,c,d,e", 5) == (values, 42)
    assert "=" not in cursor


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        encode_cursor("x", [1], 1)[:-3],
        "eyJzIjoieCIsInYiOlt7ImJhZCI6MX1dLCJpZCI6MX0",
    ],  # {"s":"x","v":[{"bad":1}],"id":1}
)
def test_decode_tampered_cursor_is_refused(cursor):
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor, "x", 1)
    assert refused.value.code == "invalid_cursor"


def test_decode_cursor_with_wrong_number_of_values_is_refused():
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(encode_cursor("x", [1, 2], 1), "x", 1)
    assert refused.value.code == "invalid_cursor"

"""End to end: a sales rep in 华东 sees no 西南 account through any endpoint, export or history,
sees masked phone numbers, and the trace command names them from a cut-down leaked export."""

from __future__ import annotations

import csv
import io
import random
import re

from openpyxl import Workbook
from typer.testing import CliRunner

from dealcraft.access.principal import SYSTEM
from dealcraft.cli import app as cli

MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
runner = CliRunner()


def test_rep_east_sees_no_southwest_account_anywhere_and_a_leak_is_traced(world, tmp_path):
    c, rep = world.client, world.headers("rep_east")
    southwest = world.records[("other_region", "account")]
    southwest_contact = world.records[("other_region", "contact")]
    # Enough 华东 accounts that an export can be cut down to 20 rows.
    world.ws.records.bulk_create(
        SYSTEM, "account", [{"name": f"华东客户{i}", "region": "华东"} for i in range(25)]
    )

    # Lists, filters and dotted paths hold no 西南 account
    accounts = c.get("/api/v1/records/account?limit=500", headers=rep).json()["data"]
    assert accounts and all(a["region"] == "华东" for a in accounts)
    assert all("credit_limit" not in a and "supply_chain_notes" not in a for a in accounts)
    assert c.get("/api/v1/records/account?where=region = '西南'", headers=rep).json()["data"] == []
    by_path = c.get("/api/v1/records/contact?where=account.region = '西南'", headers=rep)
    assert by_path.json()["data"] == []

    # A 西南 record answers 404 exactly like a missing one, on get, history and writes
    missing = c.get("/api/v1/records/account/987654", headers=rep).json()["error"]
    for response in (
        c.get(f"/api/v1/records/account/{southwest}", headers=rep),
        c.get(f"/api/v1/records/account/{southwest}/history", headers=rep),
        c.patch(f"/api/v1/records/account/{southwest}", json={"description": "x"}, headers=rep),
        c.get(f"/api/v1/records/contact/{southwest_contact}", headers=rep),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == missing["code"] == "record_not_found"

    # Phone numbers of contacts are masked, in lists and in history
    contacts = c.get("/api/v1/records/contact?limit=500", headers=rep).json()["data"]
    assert contacts and all(MASKED_PHONE.match(x["phone"]) for x in contacts if x["phone"])
    own_contact = world.records[("rep_east", "contact")]
    history = c.get(f"/api/v1/records/contact/{own_contact}/history", headers=rep).json()["data"]
    phones = [e for e in history if e["field"] == "phone"]
    assert phones and all(MASKED_PHONE.match(e["old_value"]) for e in phones)
    assert all(MASKED_PHONE.match(e["new_value"]) for e in phones)

    # The API export holds no 西南 account either
    exported = c.get("/api/v1/records/account/export?format=csv", headers=rep)
    assert exported.status_code == 200 and "西南" not in exported.content.decode("utf-8-sig")

    # When rep_east exports accounts with the CLI, acting under their own policy
    env = {"DEALCRAFT_DATABASE_URL": world.url, "DEALCRAFT_ENV": "test"}
    data_dir = str(world.ws.settings.data_dir)
    out = tmp_path / "accounts.csv"
    done = runner.invoke(
        cli,
        ["export", "account", "--as", "rep_east", "--output", str(out), "--data-dir", data_dir],
        env=env,
    )
    assert done.exit_code == 0, done.output
    text = out.read_text(encoding="utf-8-sig")
    assert "西南" not in text and "credit_limit" not in text

    # And the file leaks: the notice dropped, re-sorted, cut to 20 rows, saved as XLSX
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    header, body = rows[0], rows[1:]
    assert len(body) > 20
    leaked = random.Random(3).sample(body, 20)
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in sorted(leaked, key=lambda r: r[header.index("name")]):
        sheet.append(row)
    leak = tmp_path / "客户名单.xlsx"
    book.save(leak)

    # Then the trace command names the export and rep_east
    traced = runner.invoke(cli, ["export", "trace", str(leak), "--data-dir", data_dir], env=env)
    assert traced.exit_code == 0, traced.output
    assert "by rep_east" in traced.output
    assert "matched 20 of 20 rows by fingerprint" in traced.output

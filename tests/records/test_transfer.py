"""Import and export of records: CSV and XLSX files through the record service."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from dealcraft.errors import InvalidInput, NotFound
from dealcraft.records import transfer
from dealcraft.records.service import ImportRejected

# Helpers --------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def all_records(workspace, principal, object_name: str) -> list[dict]:
    return workspace.records.list(principal, object_name, limit=500, sort="id").data


@pytest.fixture
def sqlite_admin(sqlite_workspace):
    user = sqlite_workspace.identity.create_user("admin", "admin-password", role="admin")
    return sqlite_workspace.identity.principal_for_user(user)


ACCOUNT_ROWS = [
    ["name", "industry", "region", "grade", "employee_count", "annual_revenue",
     "annual_revenue_currency", "website"],
    ["华东精密制造", "manufacturing", "华东", "A", "1200", "35000000.50", "CNY",
     "https://hd-precision.cn"],
    ["Lakeside Medical", "medical", "华南", "B", "85", "1200000", "USD", ""],
    ["西部能源集团", "energy", "西南", "", "", "", "", ""],
]  # fmt: skip


# Round trips ------------------------------------------------------------------------------


def test_import_accounts_csv_round_trip_keeps_every_value(workspace, admin, tmp_path):
    # Given a CSV of accounts with choices, money in two currencies and blank cells
    source = write_csv(tmp_path / "accounts.csv", ACCOUNT_ROWS)

    # When it is imported, exported and the export imported again on the name
    result = transfer.import_file(workspace.records, admin, "account", source)
    exported = tmp_path / "export.csv"
    count = transfer.export_file(workspace.records, admin, "account", exported)
    again = transfer.import_file(workspace.records, admin, "account", exported, key="name")

    # Then the values survive, and the second import changes nothing
    assert (result.created, count) == (3, 3)
    rows = read_csv(exported)
    assert rows[0]["name"] == "华东精密制造"
    assert rows[0]["industry"] == "manufacturing"
    assert rows[0]["annual_revenue"] == "35000000.5"
    assert rows[0]["annual_revenue_currency"] == "CNY"
    assert rows[1]["annual_revenue_currency"] == "USD"
    assert rows[1]["website"] == ""
    assert rows[2]["grade"] == "" and rows[2]["annual_revenue"] == ""
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert len(all_records(workspace, admin, "account")) == 3


def test_import_opportunities_xlsx_round_trip_keeps_every_value(workspace, admin, tmp_path):
    # Given two accounts and a workbook of opportunities with labels, dates and references
    acme = workspace.records.create(admin, "account", {"name": "Acme"})
    beta = workspace.records.create(admin, "account", {"name": "北方重工"})
    source = write_xlsx(
        tmp_path / "opportunities.xlsx",
        [
            ["商机名称", "客户", "阶段", "金额", "金额币种", "赢率", "预计成交日期", "竞争对手"],
            ["MES rollout", acme["id"], "方案报价", 480000, "CNY", 60, datetime(2025, 3, 31),
             "Salesforce;金蝶"],
            ["EHS pilot", beta["id"], "won", 25000.75, "USD", 100, date(2024, 12, 1), ""],
        ],
    )  # fmt: skip

    # When it is imported, exported as XLSX and the export imported again on the name
    result = transfer.import_file(workspace.records, admin, "opportunity", source)
    exported = tmp_path / "export.xlsx"
    transfer.export_file(workspace.records, admin, "opportunity", exported, format="xlsx")
    again = transfer.import_file(workspace.records, admin, "opportunity", exported, key="name")

    # Then the records hold the parsed values and the export carries them as typed cells
    assert result.created == 2
    first, second = all_records(workspace, admin, "opportunity")
    assert first["account"] == acme["id"] and first["stage"] == "proposal"
    assert (first["amount"], first["amount_currency"]) == (480000.0, "CNY")
    assert first["close_date"] == "2025-03-31"
    assert first["competitors"] == ["salesforce", "kingdee"]
    assert (second["amount"], second["amount_currency"]) == (25000.75, "USD")
    assert second["competitors"] is None
    headers, table = transfer.read_table(exported)
    row = dict(zip(headers, table[0], strict=True))
    assert row["close_date"] == datetime(2025, 3, 31)
    assert row["competitors"] == "salesforce;kingdee"
    assert row["weighted_amount"] == 288000
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_import_accounts_chinese_headers_mapped_by_label(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a file exported from another CRM with Chinese column names and odd spacing
    source = write_csv(
        tmp_path / "客户.csv",
        [["客户名称", " 行业 ", "客户等级", "年营收", "年营收 币种", "员工人数"],
         ["宁波港务", "能源", "A（战略）", "￥1,000,000", "CNY", "3000"]],
    )  # fmt: skip
    obj = sqlite_workspace.registry.view().objects["account"]

    # When the columns are matched and the file imported
    mapping = transfer.suggest_mapping(obj, transfer.read_table(source)[0])
    transfer.import_file(sqlite_workspace.records, sqlite_admin, "account", source)

    # Then each column found its field, and choice labels became their values
    assert mapping == {
        "客户名称": "name",
        "行业": "industry",
        "客户等级": "grade",
        "年营收": "annual_revenue",
        "年营收 币种": "annual_revenue_currency",
        "员工人数": "employee_count",
    }
    (account,) = all_records(sqlite_workspace, sqlite_admin, "account")
    assert (account["industry"], account["grade"], account["annual_revenue"]) == (
        "energy",
        "A",
        1_000_000.0,
    )


def test_import_accounts_english_labels_match_case_insensitively(sqlite_workspace, tmp_path):
    # Given headers written as labels in another case
    obj = sqlite_workspace.registry.view().objects["account"]

    # When they are matched
    mapping = transfer.suggest_mapping(
        obj, ["NAME", "annual revenue", "Annual Revenue Currency", "Employees", "Contacts", "ID"]
    )

    # Then labels and names match, and read-only columns are ignored rather than unknown
    assert mapping == {
        "NAME": "name",
        "annual revenue": "annual_revenue",
        "Annual Revenue Currency": "annual_revenue_currency",
        "Employees": "employee_count",
        "Contacts": "",
        "ID": "",
    }


# Validation -------------------------------------------------------------------------------


def test_import_accounts_bad_rows_reject_whole_file(workspace, admin, tmp_path):
    # Given a file whose rows 2 and 4 are wrong, with a blank line before row 4
    source = write_csv(
        tmp_path / "accounts.csv",
        [["客户名称", "行业", "员工人数"],
         ["Good Co", "retail", "10"],
         ["Bad Industry", "mining", "10"],
         [],
         ["", "retail", "-3"]],
    )  # fmt: skip

    # When it is imported all-or-nothing
    with pytest.raises(ImportRejected) as caught:
        transfer.import_file(workspace.records, admin, "account", source)

    # Then every bad cell is reported at its file row and column, and nothing was written
    assert caught.value.code == "import_rejected"
    reported = [(e.row, e.column, e.field, e.code) for e in caught.value.rejected]
    assert reported == [
        (2, "行业", "industry", "invalid_choice"),
        (4, "客户名称", "name", "required"),
        (4, "员工人数", "employee_count", "number_too_small"),
    ]
    assert caught.value.details["rejected"][0]["sheet_row"] == 3
    assert all_records(workspace, admin, "account") == []


def test_import_accounts_skip_bad_rows_imports_the_good_ones(workspace, admin, tmp_path):
    # Given a file with one bad row between two good ones
    source = write_csv(
        tmp_path / "accounts.csv",
        [["name", "website"], ["Alpha", "https://alpha.cn"], ["Beta", "not a url"], ["Gamma", ""]],
    )

    # When it is imported skipping bad rows
    result = transfer.import_file(workspace.records, admin, "account", source, skip_bad_rows=True)

    # Then the good rows are written and the bad one reported
    assert result.created == 2
    assert [(e.row, e.field, e.code) for e in result.rejected] == [(2, "website", "invalid_url")]
    assert [r["name"] for r in all_records(workspace, admin, "account")] == ["Alpha", "Gamma"]


def test_import_opportunities_missing_account_rejected_with_row(workspace, admin, tmp_path):
    # Given an opportunity referring to an account id that does not exist
    acme = workspace.records.create(admin, "account", {"name": "Acme"})
    source = write_csv(
        tmp_path / "opps.csv",
        [["name", "account"], ["One", str(acme["id"])], ["Two", "99999"]],
    )

    # When it is imported
    with pytest.raises(ImportRejected) as caught:
        transfer.import_file(workspace.records, admin, "opportunity", source)

    # Then the reference is refused on its row and nothing was written
    (error,) = caught.value.rejected
    assert (error.row, error.column, error.code) == (2, "account", "invalid_reference")
    assert all_records(workspace, admin, "opportunity") == []


def test_import_accounts_unknown_column_refused_until_mapped(
    sqlite_workspace, sqlite_admin, tmp_path
):
    # Given a file with a column that matches no field
    source = write_csv(tmp_path / "a.csv", [["name", "Fax"], ["Acme", "021-555"]])
    records = sqlite_workspace.records

    # When it is imported without, then with, a mapping for that column
    with pytest.raises(InvalidInput) as caught:
        transfer.import_file(records, sqlite_admin, "account", source)
    ignored = transfer.import_file(records, sqlite_admin, "account", source, mapping={"Fax": ""})
    mapped = transfer.import_file(
        records,
        sqlite_admin,
        "account",
        source,
        mapping={"Fax": "phone", "name": "address"},
        skip_bad_rows=True,
    )

    # Then the column is named in the error, and the overrides win over the automatic match
    assert caught.value.code == "unknown_column"
    assert caught.value.details["unmapped"] == ["Fax"]
    assert ignored.created == 1
    assert [(e.field, e.code) for e in mapped.rejected] == [("name", "required")]


def test_import_accounts_bad_mapping_refused(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a file with two columns
    source = write_csv(tmp_path / "a.csv", [["name", "客户名称"], ["Acme", "Acme"]])
    records = sqlite_workspace.records

    # When mappings name a missing column, a missing field, or two columns for one field
    codes = []
    for mapping in ({"Fax": "phone"}, {"name": "fax"}, {"name": "weighted"}, None):
        with pytest.raises(InvalidInput) as caught:
            transfer.import_file(records, sqlite_admin, "account", source, mapping=mapping)
        codes.append(caught.value.code)

    # Then each is refused with its own code
    assert codes == [
        "mapping_column_not_found",
        "mapping_field_not_found",
        "mapping_field_not_found",
        "duplicate_mapping",
    ]


def test_import_accounts_computed_field_column_cannot_be_mapped(sqlite_workspace, tmp_path):
    # Given the account's roll-up field
    obj = sqlite_workspace.registry.view().objects["account"]

    # When a mapping asks to write it
    with pytest.raises(InvalidInput) as caught:
        transfer.resolve_mapping(obj, ["name", "x"], {"x": "open_pipeline"})

    # Then it is refused: computed fields are read-only
    assert caught.value.code == "mapping_field_not_found"


# De-duplication ---------------------------------------------------------------------------


def test_import_accounts_with_key_updates_instead_of_duplicating(workspace, admin, tmp_path):
    # Given accounts imported once
    first = write_csv(tmp_path / "a.csv", [["name", "grade"], ["Acme", "B"], ["Zenith", "C"]])
    transfer.import_file(workspace.records, admin, "account", first, key="name")

    # When a corrected file is imported again on the name
    second = write_csv(
        tmp_path / "b.csv", [["name", "grade"], ["Acme", "A"], ["Zenith", "C"], ["Nova", "D"]]
    )
    result = transfer.import_file(workspace.records, admin, "account", second, key="name")

    # Then the changed record is updated, the same one untouched and the new one created
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    grades = {r["name"]: r["grade"] for r in all_records(workspace, admin, "account")}
    assert grades == {"Acme": "A", "Zenith": "C", "Nova": "D"}


def test_import_accounts_repeated_key_in_file_reported(workspace, admin, tmp_path):
    # Given a file naming the same account twice
    source = write_csv(
        tmp_path / "a.csv", [["name", "grade"], ["Acme", "B"], ["Zenith", "C"], [" Acme ", "A"]]
    )

    # When it is imported on the name, all-or-nothing and then skipping bad rows
    with pytest.raises(ImportRejected) as caught:
        transfer.import_file(workspace.records, admin, "account", source, key="name")
    nothing = all_records(workspace, admin, "account")
    result = transfer.import_file(
        workspace.records, admin, "account", source, key="name", skip_bad_rows=True
    )

    # Then the later row is the error (pointing at the first), and the first one wins
    (error,) = caught.value.rejected
    assert (error.row, error.field, error.code) == (3, "name", "duplicate_key")
    assert "row 1" in error.message
    assert nothing == []
    assert result.created == 2 and [e.row for e in result.rejected] == [3]
    grades = {r["name"]: r["grade"] for r in all_records(workspace, admin, "account")}
    assert grades == {"Acme": "B", "Zenith": "C"}


def test_import_accounts_key_without_its_column_refused(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a file without the column the import should match on
    source = write_csv(tmp_path / "a.csv", [["name"], ["Acme"]])

    # When it is imported on the credit code
    with pytest.raises(InvalidInput) as caught:
        transfer.import_file(
            sqlite_workspace.records,
            sqlite_admin,
            "account",
            source,
            key="unified_social_credit_code",
        )

    # Then it is refused rather than creating duplicates on every run
    assert caught.value.code == "key_not_mapped"


# Schema changes ---------------------------------------------------------------------------


def test_import_account_added_field_importable_and_exportable_at_once(workspace, admin, tmp_path):
    # Given a money field added to accounts just now (core_sales has credit_limit already)
    workspace.schema.add_field(
        "account",
        {"name": "deposit", "type": "money", "labels": {"en": "Deposit", "zh-CN": "保证金"}},
    )
    source = write_csv(
        tmp_path / "a.csv",
        [["name", "保证金", "deposit currency"], ["Acme", "500000", "HKD"]],
    )

    # When a file with it is imported and exported
    transfer.import_file(workspace.records, admin, "account", source)
    exported = tmp_path / "out.csv"
    transfer.export_file(workspace.records, admin, "account", exported)

    # Then the new field and its currency are in the record and in the export
    (account,) = all_records(workspace, admin, "account")
    assert (account["deposit"], account["deposit_currency"]) == (500000.0, "HKD")
    (row,) = read_csv(exported)
    assert (row["deposit"], row["deposit_currency"]) == ("500000", "HKD")


# Reading files ----------------------------------------------------------------------------


def test_read_table_gb18030_csv_decoded(tmp_path):
    # Given a CSV saved by Excel on a Chinese Windows (GB18030, no BOM)
    path = write_csv(
        tmp_path / "客户.csv", [["客户名称", "地址"], ["华为", "深圳市龙岗区"]], "gb18030"
    )

    # When it is read
    headers, rows = transfer.read_table(path)

    # Then the Chinese text is decoded
    assert (headers, rows) == (["客户名称", "地址"], [["华为", "深圳市龙岗区"]])


def test_import_accounts_gb18030_csv_imported(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a GB18030 CSV with Chinese headers
    path = write_csv(tmp_path / "a.csv", [["客户名称", "区域"], ["华为", "华南"]], "gb18030")

    # When it is imported
    transfer.import_file(sqlite_workspace.records, sqlite_admin, "account", path)

    # Then the record holds the decoded text
    (account,) = all_records(sqlite_workspace, sqlite_admin, "account")
    assert (account["name"], account["region"]) == ("华为", "华南")


def test_read_table_utf8_bom_and_semicolons_read(tmp_path):
    # Given a UTF-8 file with a BOM and semicolons as separators
    path = tmp_path / "a.csv"
    path.write_bytes("name;grade\r\nAcme;A\r\n".encode("utf-8-sig"))

    # When it is read
    headers, rows = transfer.read_table(path)

    # Then the BOM is not part of the first header
    assert (headers, rows) == (["name", "grade"], [["Acme", "A"]])


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("a.txt", b"name\nAcme\n", "unsupported_format"),
        ("a.csv", b"", "empty_file"),
        ("a.csv", b"\n\n", "empty_file"),
        ("a.csv", b"name,grade,name\nAcme,A,Acme\n", "duplicate_column"),
        ("a.csv", b"name,,grade\nAcme,x,A\n", "unnamed_column"),
        ("a.csv", b"name\n\x81\x30\xff\xff\n", "unreadable_file"),
        ("a.xlsx", b"this is not a zip file", "unreadable_file"),
    ],
)
def test_read_table_bad_file_refused(tmp_path, name, content, code):
    # Given a file that cannot be imported
    path = tmp_path / name
    path.write_bytes(content)

    # When it is read
    with pytest.raises(InvalidInput) as caught:
        transfer.read_table(path)

    # Then the error says why, with a stable code
    assert caught.value.code == code


def test_read_table_xlsx_padding_columns_dropped(tmp_path):
    # Given a workbook whose first sheet has a blank column and blank rows
    path = write_xlsx(tmp_path / "a.xlsx", [["name", None, "grade"], [None], ["Acme", None, "A"]])

    # When it is read
    headers, rows = transfer.read_table(path)

    # Then the empty column goes, and the blank row keeps the numbering of the rows after it
    assert headers == ["name", "grade"]
    assert rows == [[], ["Acme", "A"]]


# Reports ----------------------------------------------------------------------------------


def test_write_report_rejected_rows_listed(sqlite_workspace, sqlite_admin, tmp_path):
    # Given an import rejected for a bad cell
    source = write_csv(tmp_path / "a.csv", [["客户名称", "网站"], ["Acme", "ftp:/x"]])
    with pytest.raises(ImportRejected) as caught:
        transfer.import_file(sqlite_workspace.records, sqlite_admin, "account", source)

    # When the report is written
    report = tmp_path / "report.csv"
    transfer.write_report(report, caught.value.rejected)

    # Then it names the row, the sheet row, the column, the field and the reason
    (row,) = read_csv(report)
    assert row["row"] == "1" and row["sheet_row"] == "2"
    assert (row["column"], row["field"], row["code"]) == ("网站", "website", "invalid_url")
    assert "website" in row["message"]


# Export -----------------------------------------------------------------------------------


def test_export_accounts_filtered_by_where(workspace, admin, tmp_path):
    # Given accounts in two regions
    for name, region in [("A", "华东"), ("B", "华南"), ("C", "华东")]:
        workspace.records.create(admin, "account", {"name": name, "region": region})
    seen: list[tuple[int, int]] = []

    # When the East China ones are exported
    path = tmp_path / "east.csv"
    count = transfer.export_file(
        workspace.records,
        admin,
        "account",
        path,
        where="region = '华东'",
        progress=lambda done, total: seen.append((done, total)),
    )

    # Then only they are in the file, and progress reached the total
    assert count == 2
    assert [r["name"] for r in read_csv(path)] == ["A", "C"]
    assert seen[-1] == (2, 2)


def test_export_accounts_pages_through_every_record(sqlite_workspace, sqlite_admin, tmp_path):
    # Given more accounts than one page holds
    rows = [{"name": f"Account {i:04d}"} for i in range(transfer.EXPORT_PAGE_SIZE + 7)]
    sqlite_workspace.records.bulk_create(sqlite_admin, "account", rows)

    # When they are exported as XLSX
    path = tmp_path / "all.xlsx"
    count = transfer.export_file(
        sqlite_workspace.records, sqlite_admin, "account", path, format="xlsx"
    )

    # Then every record is written once
    headers, table = transfer.read_table(path)
    assert count == len(table) == transfer.EXPORT_PAGE_SIZE + 7
    assert len({r[headers.index("name")] for r in table}) == count


def test_export_accounts_formula_like_text_neutralised(sqlite_workspace, sqlite_admin, tmp_path):
    # Given an account whose address a spreadsheet would run as a formula, and a phone
    sqlite_workspace.records.create(
        sqlite_admin,
        "account",
        {"name": '=HYPERLINK("http://evil")', "address": "@SUM(1)", "phone": "+86 21 5555 0101"},
    )
    records = sqlite_workspace.records

    # When it is exported as CSV and XLSX, and the CSV imported into a fresh record
    csv_path, xlsx_path = tmp_path / "a.csv", tmp_path / "a.xlsx"
    transfer.export_file(records, sqlite_admin, "account", csv_path)
    transfer.export_file(records, sqlite_admin, "account", xlsx_path, format="xlsx")
    records.delete(sqlite_admin, "account", 1)
    transfer.import_file(records, sqlite_admin, "account", csv_path)

    # Then the CSV quotes it, the XLSX holds it as text, and the import restores it
    (row,) = read_csv(csv_path)
    assert row["name"] == '\'=HYPERLINK("http://evil")'
    assert row["address"] == "'@SUM(1)"
    assert row["phone"] == "+86 21 5555 0101"
    cell = load_workbook(xlsx_path).worksheets[0]["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil")', "s")
    (account,) = all_records(sqlite_workspace, sqlite_admin, "account")
    assert (account["name"], account["address"]) == ('=HYPERLINK("http://evil")', "@SUM(1)")


def test_export_accounts_bad_filter_writes_no_file(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a filter on a field accounts do not have
    path = tmp_path / "a.csv"

    # When an export is asked for with it
    with pytest.raises(InvalidInput) as caught:
        transfer.export_file(
            sqlite_workspace.records, sqlite_admin, "account", path, where="colour = 'red'"
        )

    # Then the filter's error is raised and no file is left behind
    assert caught.value.details["field"] == "where"
    assert not path.exists()


def test_export_unknown_object_not_found(sqlite_workspace, sqlite_admin, tmp_path):
    # Given no object named spaceship
    # When it is exported or imported
    with pytest.raises(NotFound) as exporting:
        transfer.export_file(
            sqlite_workspace.records, sqlite_admin, "spaceship", tmp_path / "s.csv"
        )
    source = write_csv(tmp_path / "s.csv", [["name"], ["x"]])
    with pytest.raises(NotFound) as importing:
        transfer.import_file(sqlite_workspace.records, sqlite_admin, "spaceship", source)

    # Then both say so
    assert exporting.value.code == importing.value.code == "object_not_found"


def test_export_accounts_unsupported_format_refused(sqlite_workspace, sqlite_admin, tmp_path):
    # When an export is asked for in a format we do not write
    with pytest.raises(InvalidInput) as caught:
        transfer.export_file(
            sqlite_workspace.records, sqlite_admin, "account", tmp_path / "a.json", format="json"
        )

    # Then it is refused by name
    assert caught.value.code == "unsupported_format"


def test_import_accounts_progress_reports_rows(sqlite_workspace, sqlite_admin, tmp_path):
    # Given a file of three accounts
    source = write_csv(tmp_path / "a.csv", [["name"], ["A"], ["B"], ["C"]])
    seen: list[tuple[int, int]] = []

    # When it is imported with a progress callback
    transfer.import_file(
        sqlite_workspace.records,
        sqlite_admin,
        "account",
        source,
        progress=lambda done, total: seen.append((done, total)),
    )

    # Then it starts at zero and ends at the total
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


# The command line -------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run ``dealcraft`` in a fresh SQLite workspace under tmp_path."""
    from dealcraft.cli import app

    monkeypatch.delenv("DEALCRAFT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DEALCRAFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEALCRAFT_ENV", "test")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data")])

    return run


def test_cli_import_and_export_accounts_round_trip(cli, tmp_path):
    # Given a CSV of accounts with a Chinese header mapped by hand
    source = write_csv(tmp_path / "a.csv", [["公司", "行业"], ["Acme", "零售"], ["Beta", "软件"]])

    # When it is imported, re-imported on the name and exported as XLSX from the command line
    first = cli("import", "account", str(source), "--map", "公司=name", "--key", "name")
    second = cli("import", "account", str(source), "--map", "公司=name", "--key", "name")
    out = tmp_path / "out.xlsx"
    exported = cli("export", "account", "--format", "xlsx", "--output", str(out))

    # Then the counts are printed and the file holds both accounts
    assert first.exit_code == 0, first.output
    assert "created 2, updated 0, unchanged 0, rejected 0" in first.output
    assert "created 0, updated 0, unchanged 2" in second.output
    assert exported.exit_code == 0, exported.output
    assert "exported 2 account record(s)" in exported.output
    headers, table = transfer.read_table(out)
    assert [dict(zip(headers, r, strict=True))["industry"] for r in table] == ["retail", "software"]


def test_cli_import_accounts_bad_file_writes_report(cli, tmp_path):
    # Given a file with a bad row
    source = write_csv(tmp_path / "a.csv", [["name", "grade"], ["Acme", "A"], ["Beta", "Z"]])
    report = tmp_path / "report.csv"

    # When it is imported with a report
    result = cli("import", "account", str(source), "--report", str(report))

    # Then the command fails with the code, and the report names the bad row
    assert result.exit_code == 1
    assert "import_rejected" in result.output
    (row,) = read_csv(report)
    assert (row["row"], row["column"], row["code"]) == ("2", "grade", "invalid_choice")


def test_cli_import_accounts_unknown_column_fails(cli, tmp_path):
    # Given a file with an unknown column
    source = write_csv(tmp_path / "a.csv", [["name", "Fax"], ["Acme", "1"]])

    # When it is imported
    result = cli("import", "account", str(source))

    # Then the command names the column
    assert result.exit_code == 1
    assert "unknown_column" in result.output and "Fax" in result.output


# Permissions ------------------------------------------------------------------------------


def test_import_accounts_signed_out_refused_before_the_file_is_read(sqlite_workspace, tmp_path):
    # Given someone who is not signed in, and a file that could not be read anyway
    from dealcraft.access.principal import Principal
    from dealcraft.errors import Unauthorized

    stranger = Principal(user_id=None, username="stranger")
    path = write_csv(tmp_path / "a.txt", [["name"], ["x"]])

    # When they import it or export accounts
    with pytest.raises(Unauthorized) as importing:
        transfer.import_file(sqlite_workspace.records, stranger, "account", path)
    with pytest.raises(Unauthorized) as exporting:
        transfer.export_file(sqlite_workspace.records, stranger, "account", tmp_path / "o.csv")

    # Then both are refused by the policy, learning nothing about the file or the schema
    assert importing.value.code == exporting.value.code == "unauthorized"
    assert not (tmp_path / "o.csv").exists()

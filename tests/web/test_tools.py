"""List tools (columns, saved views, export), the admin pages, the import wizard and the
list page's query-count pin, through NiceGUI's simulated user. Personas come from ``seed.py``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from nicegui import core, ui
from nicegui.elements.upload_files import SmallFileUpload

from dealcraft.access.principal import SYSTEM
from dealcraft.db import system
from dealcraft.records.transfer import trace_file
from web.test_pages import set_value, sign_in

pytestmark = pytest.mark.anyio


# List tools ----------------------------------------------------------------------------------
async def test_list_column_chooser_shows_only_chosen_fields(user):
    await sign_in(user, "rep_east", "/o/opportunity")
    await user.should_see("Hospital ERP phase 1")
    await user.should_see("Probability")

    set_value(user, "columns", ["name", "amount"])
    await user.should_see("Hospital ERP phase 1")
    await user.should_not_see("Probability")


async def test_export_csv_is_watermarked_for_the_exporter(user, web_workspace, tmp_path):
    await sign_in(user, "rep_east", "/o/opportunity?where=stage%20%3D%20%27won%27")
    await user.should_see("Hospital ERP phase 5")
    user.find(marker="export-csv").click()
    response = await user.download.next()
    path = tmp_path / "export.csv"
    path.write_bytes(response.content)
    text = response.content.decode("utf-8-sig")
    assert "Hospital ERP phase 5" in text
    assert "Hospital ERP phase 1" not in text
    # the app signs fingerprints with its own secret key
    traced = trace_file(core.app.state.dealcraft_workspace.exports, path)
    assert traced["username"] == "rep_east"


# Admin ---------------------------------------------------------------------------------------
async def test_admin_policy_with_unknown_field_is_refused_with_the_rule(user, web_workspace):
    await sign_in(user, "admin", "/admin/policies")
    await user.should_see(marker="policies")
    before = len(web_workspace.policies.list())
    set_value(user, "policy-role", "sales_rep")
    set_value(user, "policy-object", "account")
    set_value(user, "policy-operations", ["read"])
    user.find(marker="policy-scope").type("colour = 1")
    user.find(marker="save-policy").click()
    await user.should_see(marker="policy-invalid")
    await user.should_see("colour")
    web_workspace.policies.invalidate()
    assert len(web_workspace.policies.list()) == before


async def test_admin_saves_policy_as_new_version_and_audits_it(user, web_workspace):
    await sign_in(user, "admin", "/admin/policies")
    set_value(user, "policy-role", "analyst")
    set_value(user, "policy-object", "account")
    set_value(user, "policy-operations", ["read"])
    user.find(marker="policy-rules").type("annual_revenue: hidden")
    user.find(marker="save-policy").click()
    await user.should_see("Policy analyst / account saved as version")
    web_workspace.policies.invalidate()
    saved = [p for p in web_workspace.policies.list("analyst") if p.object_name == "account"]
    assert saved and saved[0].field_rules == {"annual_revenue": "hidden"}
    entries = web_workspace.audit.query(web_workspace.engine, action="policy.change", limit=5)
    assert entries and entries[0]["data"]["policy"]["role"] == "analyst"


async def test_policies_page_is_refused_to_a_rep(user):
    await sign_in(user, "rep_east", "/admin/policies")
    await user.should_see(marker="admin-only")
    await user.should_not_see(marker="policies")


async def test_rep_issues_and_revokes_own_api_token(user, web_workspace):
    await sign_in(user, "rep_east", "/me/tokens")
    await user.should_see("You have no API tokens.")
    user.find(marker="token-name").type("laptop")
    user.find(marker="issue-token").click()
    await user.should_see(marker="token-value")
    await user.should_see(marker="tokens")
    user.find(marker="revoke-laptop").click()
    await user.should_not_see(marker="revoke-laptop")
    with web_workspace.engine.connect() as conn:
        t = system.api_tokens
        revoked = conn.execute(sa.select(t.c.revoked_at).where(t.c.name == "laptop")).scalar()
    assert revoked is not None


async def test_admin_reads_audit_log_and_rep_may_not(user):
    await sign_in(user, "admin", "/admin/policies")
    set_value(user, "policy-role", "analyst")
    set_value(user, "policy-object", "contact")
    set_value(user, "policy-operations", ["read"])
    user.find(marker="save-policy").click()
    await user.should_see("saved as version")
    await user.open("/admin/audit")
    await user.should_see(marker="audit")
    await user.should_see("policy.change")

    user.find(marker="logout").click()
    await sign_in(user, "rep_east", "/admin/audit")
    await user.should_see(marker="admin-only")
    await user.should_not_see(marker="audit")


# Import wizard -------------------------------------------------------------------------------
CSV = "Name,Industry,Region,Colour\n导入客户甲,medical,华东,red\n,medical,华东,blue\n"


async def _upload(user, text: str) -> None:
    upload = user.find(ui.upload).elements.pop()
    data = text.encode("utf-8")
    await upload.handle_uploads([SmallFileUpload("accounts.csv", "text/csv", data)])


async def test_import_wizard_suggests_mapping_reports_and_skips_bad_rows(user, web_workspace):
    # given a file with an unknown column and a row without a name
    await sign_in(user, "admin", "/o/account/import")
    await _upload(user, CSV)
    await user.should_see(marker="import-preview")
    mapping = {
        c: s.value
        for c, s in (
            (c, user.find(marker=f"map-{c}").elements.pop()) for c in ("Name", "Industry", "Colour")
        )
    }
    assert mapping == {"Name": "name", "Industry": "industry", "Colour": None}

    # when the unmatched column is not mapped, then the run is refused naming it
    user.find(marker="run-import").click()
    await user.should_see(marker="import-unmapped")

    # when it is ignored, then the bad row is reported and nothing is imported
    set_value(user, "map-Colour", "")
    user.find(marker="run-import").click()
    await user.should_see(marker="import-rejected", retries=30)
    await user.should_see("required")
    assert web_workspace.records.count(SYSTEM, "account", where="name = '导入客户甲'") == 0
    user.find(marker="download-rejected").click()
    report = await user.download.next()
    assert "row,sheet_row,column,field,code,message" in report.content.decode("utf-8-sig")

    # when the good rows are imported, then the valid one exists
    user.find(marker="import-skip-bad").click()
    await user.should_see(marker="import-done", retries=30)
    assert web_workspace.records.count(SYSTEM, "account", where="name = '导入客户甲'") == 1


async def test_import_wizard_admin_keeps_the_creation_dates_of_history(user, web_workspace):
    # given an admin importing accounts with a 创建时间 column
    await sign_in(user, "admin", "/o/account/import")
    await _upload(user, "Name,Region,创建时间\n老客户乙,华东,2021-03-04\n")
    await user.should_see(marker="import-preview")
    (select,) = user.find(marker="map-创建时间").elements
    assert select.value == "created_at"

    # when the import runs, then the record keeps the date from the file
    user.find(marker="run-import").click()
    await user.should_see(marker="import-done", retries=30)
    page = web_workspace.records.list(SYSTEM, "account", where="name = '老客户乙'")
    assert [r["created_at"][:10] for r in page.data] == ["2021-03-04"]


async def test_import_wizard_offers_no_creation_date_to_a_manager(user):
    # given a regional manager (who may import, but is no admin): the date is not offered
    await sign_in(user, "manager_east", "/o/account/import")
    await _upload(user, "Name,Region,创建时间\n老客户丙,华东,2021-03-04\n")
    await user.should_see(marker="import-preview")
    (select,) = user.find(marker="map-创建时间").elements
    assert select.value in ("", None)
    assert "created_at" not in select.options


# Speed ---------------------------------------------------------------------------------------
COLUMNS = "name,account,stage,amount,probability,owner,close_date,region,created_at,updated_at"


async def _statements_for_list(user, limit: int) -> int:
    engine = core.app.state.dealcraft_workspace.engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        await user.open(f"/o/opportunity?limit={limit}&sort=name&columns={COLUMNS}")
        await user.should_see("Bulk deal 0000", retries=30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


async def test_opportunity_list_makes_the_same_queries_for_10_or_50_rows(user, web_workspace):
    # given 500 opportunities over 20 accounts
    accounts = web_workspace.records.bulk_create(
        SYSTEM, "account", [{"name": f"Bulk account {i}", "region": "华东"} for i in range(20)]
    ).ids
    rep = web_workspace.records.list(SYSTEM, "user", where="username = 'rep_east'").data[0]["id"]
    web_workspace.records.bulk_create(
        SYSTEM,
        "opportunity",
        [
            {
                "name": f"Bulk deal {i:04d}",
                "account": accounts[i % 20],
                "stage": "proposal",
                "amount": 1000 * i,
                "owner": rep,
                "close_date": "2027-01-31",
            }
            for i in range(500)
        ],
    )
    await sign_in(user, "manager_east")

    # when the list is rendered with 10 columns, 10 rows and then 50 rows
    await _statements_for_list(user, 50)  # warms the schema and policy caches
    ten = await _statements_for_list(user, 10)
    fifty = await _statements_for_list(user, 50)

    # then the number of statements does not grow with the rows, and stays small: the
    # session's principal, one policy snapshot for the rail, the inbox bell, the saved views,
    # the rows, the count and one title query per referenced object (92 before the rail
    # checked every object against one snapshot; the schema and policy version checks are
    # most of the rest, as this test refreshes them on every call).
    assert ten == fifty
    assert fifty <= 64

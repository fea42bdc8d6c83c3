"""Flows in the web app, for admins: the list, the visual builder with its dry run
(``flow_builder``), and the run history (``flow_runs``); their strings and the pages' routes.

The builder edits a draft of the flow's definition in the page: the step graph is drawn
with Mermaid (shipped in the NiceGUI wheel), each step has a form built from its type's
field specs (a select of objects for ``object``, of the trigger object's fields for
``field``, of step ids for ``step``; expressions checked while typing), and "Save" hands
the draft to ``FlowService.save``, which checks it and stores the next version. The errors
a save reports are shown beside the step and field they name. The dry run works on the
draft, so an unsaved change can be tried on a record first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError, NotFound
from dealcraft.flows.registry import load_builtins
from dealcraft.flows.service import FlowService
from dealcraft.schema.model import pick_label
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import allowed_or_notice, not_found, signed_in_page
from dealcraft.workspace import Workspace

JSON_PREVIEW = 400

add_strings(
    {
        "nav.flows": {"en": "Flows", "zh-CN": "自动化流程"},
        "flows.title": {"en": "Flows", "zh-CN": "自动化流程"},
        "flows.admin_only": {
            "en": "Only an admin may manage flows.",
            "zh-CN": "只有管理员可以管理自动化流程。",
        },
        "flows.none": {"en": "No flows yet.", "zh-CN": "暂无流程。"},
        "flows.name": {"en": "Flow", "zh-CN": "流程"},
        "flows.enabled": {"en": "Enabled", "zh-CN": "启用"},
        "flows.version": {"en": "Version", "zh-CN": "版本"},
        "flows.trigger": {"en": "Trigger", "zh-CN": "触发条件"},
        "flows.last_run": {"en": "Last run", "zh-CN": "最近运行"},
        "flows.runs": {"en": "Runs", "zh-CN": "运行次数"},
        "flows.history": {"en": "Run history", "zh-CN": "运行记录"},
        "flows.enabled_now": {"en": "{flow} enabled", "zh-CN": "已启用 {flow}"},
        "flows.disabled_now": {"en": "{flow} disabled", "zh-CN": "已停用 {flow}"},
        # The builder
        "flows.builder": {"en": "Builder", "zh-CN": "可视化编辑"},
        "flows.yaml": {"en": "YAML", "zh-CN": "YAML"},
        "flows.graph": {"en": "Steps", "zh-CN": "步骤图"},
        "flows.step": {"en": "Step", "zh-CN": "步骤"},
        "flows.step_type": {"en": "Type", "zh-CN": "类型"},
        "flows.settings": {"en": "Flow and trigger", "zh-CN": "流程与触发条件"},
        "flows.add_step": {"en": "Add step", "zh-CN": "添加步骤"},
        "flows.new_step_id": {"en": "New step id", "zh-CN": "新步骤 ID"},
        "flows.delete_step": {"en": "Delete step", "zh-CN": "删除步骤"},
        "flows.save": {"en": "Save as new version", "zh-CN": "保存为新版本"},
        "flows.save_yaml": {"en": "Save YAML", "zh-CN": "保存 YAML"},
        "flows.apply_yaml": {"en": "Use in the builder", "zh-CN": "载入可视化编辑"},
        "flows.saved": {"en": "Saved as version {version}", "zh-CN": "已保存为第 {version} 版"},
        "flows.unchanged": {
            "en": "Nothing changed; still version {version}",
            "zh-CN": "没有变化，仍为第 {version} 版",
        },
        "flows.errors": {
            "en": "The flow was not saved: {count} problem(s)",
            "zh-CN": "流程未保存：{count} 个问题",
        },
        "flows.bad_step_id": {
            "en": "A step id is lowercase letters, digits and '_', not used by another step",
            "zh-CN": "步骤 ID 由小写字母、数字和下划线组成，且不能与其他步骤重复",
        },
        "flows.expression_ok": {"en": "Valid condition", "zh-CN": "条件有效"},
        "flows.expression_type": {
            "en": "A condition must be true or false, not a {type}",
            "zh-CN": "条件必须为真或假，而不是 {type}",
        },
        "flows.bad_yaml": {"en": "Not valid YAML: {problem}", "zh-CN": "YAML 无效：{problem}"},
        "flows.common": {"en": "Next step and label", "zh-CN": "下一步与名称"},
        # The dry run
        "flows.dry_run": {"en": "Dry run", "zh-CN": "试运行"},
        "flows.dry_run.help": {
            "en": "Runs the draft above on one record and shows what each step would do. "
            "Nothing is written or sent.",
            "zh-CN": "在一条记录上试运行上方的草稿，显示每一步将会执行的操作。"
            "不会写入或发送任何内容。",
        },
        "flows.dry_run.record": {"en": "Record", "zh-CN": "记录"},
        "flows.dry_run.record_id": {"en": "or record id", "zh-CN": "或记录 ID"},
        "flows.dry_run.go": {"en": "Dry run", "zh-CN": "试运行"},
        "flows.dry_run.no_start": {
            "en": "The flow's condition is false for this record: no run would start.",
            "zh-CN": "该记录不满足流程条件：不会启动运行。",
        },
        "flows.dry_run.would": {"en": "Would do", "zh-CN": "将会执行"},
        "flows.dry_run.nothing": {"en": "nothing outside the run", "zh-CN": "无外部操作"},
        "flows.note.wait_assumed_over": {
            "en": "Would pause here; the dry run assumes the wait is over and takes the default "
            "path (time passed, approved, event arrived).",
            "zh-CN": "将在此暂停；试运行假定等待已结束，沿默认路径继续"
            "（时间已到、已批准、事件已到达）。",
        },
        "flows.note.condition_false": {
            "en": "The flow's condition is false for this record.",
            "zh-CN": "该记录不满足流程条件。",
        },
        "flows.note.record_invisible_to_flow": {
            "en": "The flow's service account cannot see this record.",
            "zh-CN": "流程的服务账号无法查看该记录。",
        },
        "flows.note.visit_limit": {
            "en": "Stopped after 50 steps: the flow loops.",
            "zh-CN": "已执行 50 步后停止：流程存在循环。",
        },
        # Runs
        "flows.run": {"en": "Run {id}", "zh-CN": "运行 {id}"},
        "flows.status": {"en": "Status", "zh-CN": "状态"},
        "flows.all": {"en": "All", "zh-CN": "全部"},
        "flows.record": {"en": "Record", "zh-CN": "记录"},
        "flows.started": {"en": "Started", "zh-CN": "开始时间"},
        "flows.finished": {"en": "Finished", "zh-CN": "结束时间"},
        "flows.duration": {"en": "Duration", "zh-CN": "耗时"},
        "flows.attempts": {"en": "Attempts", "zh-CN": "尝试次数"},
        "flows.input": {"en": "Input", "zh-CN": "输入"},
        "flows.output": {"en": "Output", "zh-CN": "输出"},
        "flows.error": {"en": "Error", "zh-CN": "错误"},
        "flows.effects": {"en": "Effects", "zh-CN": "外部操作"},
        "flows.logs": {"en": "Log lines", "zh-CN": "日志"},
        "flows.no_runs": {"en": "No runs.", "zh-CN": "暂无运行记录。"},
        "flows.no_logs": {"en": "No log lines.", "zh-CN": "暂无日志。"},
        "flows.no_effects": {"en": "No effects.", "zh-CN": "暂无外部操作。"},
        "flows.retry": {"en": "Retry", "zh-CN": "重试"},
        "flows.cancel": {"en": "Cancel run", "zh-CN": "取消运行"},
        "flows.retried": {"en": "Run {id} will try again", "zh-CN": "运行 {id} 将重试"},
        "flows.cancelled": {"en": "Run {id} cancelled", "zh-CN": "运行 {id} 已取消"},
    }
)


def _admin_only(ctx: PageContext) -> bool:
    """True for an admin; anyone else is told that flows are for admins."""
    return allowed_or_notice(ctx, ctx.is_admin, "flows.admin_only")


def flow_label(definition: Mapping[str, Any], language: str) -> str:
    label = definition.get("label")
    if isinstance(label, dict):
        return pick_label(label, language, definition["name"])
    return str(label) if label else definition["name"]


def _trigger_text(trigger: Mapping[str, Any]) -> str:
    about = trigger.get("object") or trigger.get("name") or trigger.get("cron") or ""
    return f"{trigger.get('type')} {about}".strip()


def preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= JSON_PREVIEW else text[:JSON_PREVIEW] + " …"


def json_block(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, default=str, indent=2)
    ui.label(text).classes("font-mono whitespace-pre-wrap text-xs")


# The list ------------------------------------------------------------------------------------
def flows_page(ctx: PageContext) -> None:
    service = FlowService(ctx.workspace)
    with ui.row().classes("items-center w-full"):
        ui.label(ctx.t("flows.title")).classes("text-h5")
        ui.space()
        ui.link(ctx.t("flows.history"), "/flows/runs").props("data-testid=run-history").mark(
            "run-history"
        )
    flows = service.list()
    if not flows:
        ui.label(ctx.t("flows.none"))
        return

    def toggle(name: str, enabled: bool) -> None:
        try:
            service.set_enabled(name, enabled, ctx.principal)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        key = "flows.enabled_now" if enabled else "flows.disabled_now"
        ui.notify(ctx.t(key, flow=name), type="positive")

    headings = ("flows.name", "flows.enabled", "flows.version", "flows.trigger")
    with ui.element("table").classes("w-full text-left text-sm"):
        with ui.element("tr"):
            for key in (*headings, "flows.last_run", "flows.runs"):
                with ui.element("th").classes("p-1 border-b"):
                    ui.label(ctx.t(key))
        for flow in flows:
            definition = service.definition(flow["name"])
            last = service.runs(flow["name"], limit=1)
            with ui.element("tr").props(f"data-flow={flow['name']}"):
                with ui.element("td").classes("p-1 border-b"):
                    ui.link(flow_label(definition, ctx.language), f"/flows/{flow['name']}").mark(
                        f"flow-{flow['name']}"
                    )
                    ui.label(flow["name"]).classes("text-grey-6 text-xs")
                with ui.element("td").classes("p-1 border-b"):
                    ui.switch(
                        value=flow["enabled"],
                        on_change=lambda e, n=flow["name"]: toggle(n, bool(e.value)),
                    ).props(f"data-testid=enabled-{flow['name']}").mark(f"enabled-{flow['name']}")
                with ui.element("td").classes("p-1 border-b"):
                    ui.label(str(flow["version"]))
                with ui.element("td").classes("p-1 border-b"):
                    ui.label(_trigger_text(definition["trigger"]))
                with ui.element("td").classes("p-1 border-b"):
                    if last:
                        ui.link(last[0]["status"], f"/flows/runs/{last[0]['id']}")
                    else:
                        ui.label("-")
                with ui.element("td").classes("p-1 border-b"):
                    counts = ", ".join(f"{k} {v}" for k, v in sorted(flow["runs"].items()))
                    ui.link(counts or "-", f"/flows/runs?flow={flow['name']}").mark(
                        f"runs-{flow['name']}"
                    )


def register(workspace: Workspace) -> None:
    # Imported here: the builder and the run pages use this module's strings and helpers.
    from dealcraft.web.flow_builder import builder_page
    from dealcraft.web.flow_runs import run_page, runs_page

    load_builtins()

    @signed_in_page(workspace, "/flows", "flows.title")
    def flows_list(ctx: PageContext) -> None:
        if _admin_only(ctx):
            flows_page(ctx)

    # Registered before /flows/{name}, which would otherwise take "runs" for a flow's name.
    @signed_in_page(workspace, "/flows/runs", "flows.history")
    def flow_runs(ctx: PageContext, flow: str = "", status: str = "") -> None:
        if _admin_only(ctx):
            runs_page(ctx, flow or None, status or None)

    @signed_in_page(
        workspace, "/flows/runs/{run_id}", lambda ctx, run_id: ctx.t("flows.run", id=run_id)
    )
    def flow_run(ctx: PageContext, run_id: int) -> None:
        if not _admin_only(ctx):
            return
        try:
            run = FlowService(workspace).run(run_id)
        except NotFound:
            not_found(ctx)
            return
        run_page(ctx, run)

    @signed_in_page(workspace, "/flows/{name}", "flows.title")
    def flow_builder(ctx: PageContext, name: str) -> None:
        if not _admin_only(ctx):
            return
        try:
            FlowService(workspace).definition(name)
        except NotFound:
            not_found(ctx)
            return
        builder_page(ctx, name)

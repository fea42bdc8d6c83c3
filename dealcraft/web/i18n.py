"""Every string the web app shows that does not come from metadata, in English and zh-CN.

Object, field and choice labels come from the schema; everything else is looked up here by a
stable key, so a missing translation falls back to English rather than to the key.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = {"zh-CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    # Shell
    "app.name": {"en": "Dealcraft", "zh-CN": "Dealcraft"},
    "login.title": {"en": "Sign in", "zh-CN": "登录"},
    "login.username": {"en": "Username", "zh-CN": "用户名"},
    "login.password": {"en": "Password", "zh-CN": "密码"},
    "login.submit": {"en": "Sign in", "zh-CN": "登录"},
    "login.failed": {"en": "Wrong username or password", "zh-CN": "用户名或密码错误"},
    "logout": {"en": "Sign out", "zh-CN": "退出登录"},
    "search.placeholder": {"en": "Search everything", "zh-CN": "全局搜索"},
    "search.title": {"en": "Search results for “{q}”", "zh-CN": "“{q}”的搜索结果"},
    "search.none": {"en": "Nothing matches “{q}”.", "zh-CN": "没有与“{q}”匹配的记录。"},
    "nav.home": {"en": "My day", "zh-CN": "我的一天"},
    "nav.team": {"en": "Team pipeline", "zh-CN": "团队管道"},
    "nav.objects": {"en": "Records", "zh-CN": "业务数据"},
    "nav.kanban": {"en": "Pipeline board", "zh-CN": "商机看板"},
    "nav.builder": {"en": "Object builder", "zh-CN": "对象构建器"},
    "nav.users": {"en": "Users", "zh-CN": "用户管理"},
    "language": {"en": "Language", "zh-CN": "语言"},
    # Error pages
    "error.not_found": {"en": "Not found", "zh-CN": "未找到"},
    "error.not_found.text": {
        "en": "This page or record does not exist, or you may not see it.",
        "zh-CN": "该页面或记录不存在，或您无权查看。",
    },
    "error.forbidden": {"en": "Not allowed", "zh-CN": "无权操作"},
    "error.unexpected": {"en": "Something went wrong", "zh-CN": "出现了错误"},
    "error.unexpected.text": {
        "en": "The error was logged. Go back and try again.",
        "zh-CN": "错误已记录。请返回后重试。",
    },
    "error.back_home": {"en": "Back to my day", "zh-CN": "返回首页"},
    # Lists
    "list.new": {"en": "New {object}", "zh-CN": "新建{object}"},
    "list.filter": {"en": "Filter (expression)", "zh-CN": "筛选（表达式）"},
    "list.filter.hint": {
        "en": "e.g. stage = 'proposal' and amount > 100000",
        "zh-CN": "例如 stage = 'proposal' and amount > 100000",
    },
    "list.apply": {"en": "Apply", "zh-CN": "应用"},
    "list.clear": {"en": "Clear", "zh-CN": "清除"},
    "list.count": {"en": "{count} records", "zh-CN": "共 {count} 条"},
    "list.empty": {"en": "No records.", "zh-CN": "暂无记录。"},
    "list.next": {"en": "Next", "zh-CN": "下一页"},
    "list.previous": {"en": "Previous", "zh-CN": "上一页"},
    "list.sort": {"en": "Sort by", "zh-CN": "排序"},
    "list.kanban": {"en": "Board", "zh-CN": "看板"},
    # Lists: columns, views, export, import
    "list.export": {"en": "Export", "zh-CN": "导出"},
    "list.exported": {"en": "{count} records exported", "zh-CN": "已导出 {count} 条记录"},
    "list.import": {"en": "Import", "zh-CN": "导入"},
    "list.columns": {"en": "Columns", "zh-CN": "显示列"},
    "list.views": {"en": "Saved views", "zh-CN": "已保存视图"},
    "list.view_name": {"en": "View name", "zh-CN": "视图名称"},
    "list.save_view": {"en": "Save view", "zh-CN": "保存视图"},
    "list.view_saved": {"en": "View “{name}” saved", "zh-CN": "视图“{name}”已保存"},
    "list.view_name_required": {"en": "Give the view a name", "zh-CN": "请填写视图名称"},
    "import.title": {"en": "Import {object}", "zh-CN": "导入{object}"},
    "import.upload": {"en": "CSV or XLSX file", "zh-CN": "CSV 或 XLSX 文件"},
    "import.mapping": {"en": "Columns → fields", "zh-CN": "列 → 字段"},
    "import.ignore": {"en": "(ignore this column)", "zh-CN": "（忽略此列）"},
    "import.preview": {"en": "First rows of {count}", "zh-CN": "共 {count} 行，前几行预览"},
    "import.run": {"en": "Check and import", "zh-CN": "校验并导入"},
    "import.unmapped": {
        "en": "Choose a field (or ignore) for: {columns}",
        "zh-CN": "请为以下列选择字段（或忽略）：{columns}",
    },
    "import.rejected": {
        "en": "{count} row(s) are invalid; nothing was imported.",
        "zh-CN": "{count} 行数据无效，未导入任何记录。",
    },
    "import.download_rejected": {"en": "Download rejected rows", "zh-CN": "下载被拒绝的行"},
    "import.skip_bad": {
        "en": "Import the valid rows, skip the rejected",
        "zh-CN": "导入有效行，跳过被拒绝的行",
    },
    "import.done": {
        "en": "Imported: {created} created, {updated} updated, {rejected} rejected",
        "zh-CN": "导入完成：新建 {created}，更新 {updated}，拒绝 {rejected}",
    },
    "import.to_list": {"en": "Back to the list", "zh-CN": "返回列表"},
    "import.row": {"en": "Row", "zh-CN": "行"},
    "import.column": {"en": "Column", "zh-CN": "列"},
    "import.field": {"en": "Field", "zh-CN": "字段"},
    "import.code": {"en": "Code", "zh-CN": "错误码"},
    "import.message": {"en": "Problem", "zh-CN": "问题"},
    # Admin: policies, tokens, audit
    "nav.policies": {"en": "Roles & policies", "zh-CN": "角色与策略"},
    "nav.audit": {"en": "Audit log", "zh-CN": "审计日志"},
    "nav.tokens": {"en": "API tokens", "zh-CN": "API 令牌"},
    "admin.refused": {
        "en": "Your role may not open this page.",
        "zh-CN": "您的角色无权打开此页面。",
    },
    "policies.title": {"en": "Roles & policies", "zh-CN": "角色与策略"},
    "policies.role": {"en": "Role", "zh-CN": "角色"},
    "policies.object": {"en": "Object", "zh-CN": "对象"},
    "policies.version": {"en": "Version", "zh-CN": "版本"},
    "policies.operations": {"en": "Operations", "zh-CN": "操作"},
    "policies.row_scope": {"en": "Row scope (expression)", "zh-CN": "行范围（表达式）"},
    "policies.field_rules": {"en": "Field rules", "zh-CN": "字段规则"},
    "policies.field_rules.hint": {
        "en": "one per line, field: rule ({rules})",
        "zh-CN": "每行一条，字段: 规则（{rules}）",
    },
    "policies.edit": {"en": "Grant or change a policy", "zh-CN": "授予或修改策略"},
    "policies.save": {"en": "Save policy", "zh-CN": "保存策略"},
    "policies.saved": {
        "en": "Policy {role} / {object} saved as version {v}",
        "zh-CN": "策略 {role} / {object} 已保存为第 {v} 版",
    },
    "tokens.title": {"en": "API tokens", "zh-CN": "API 令牌"},
    "tokens.name": {"en": "Name", "zh-CN": "名称"},
    "tokens.scopes": {"en": "Scopes", "zh-CN": "权限范围"},
    "tokens.created": {"en": "Created", "zh-CN": "创建时间"},
    "tokens.expires": {"en": "Expires", "zh-CN": "过期时间"},
    "tokens.revoked": {"en": "Revoked", "zh-CN": "撤销时间"},
    "tokens.revoke": {"en": "Revoke", "zh-CN": "撤销"},
    "tokens.issue": {"en": "New token", "zh-CN": "新建令牌"},
    "tokens.none": {"en": "You have no API tokens.", "zh-CN": "您还没有 API 令牌。"},
    "tokens.name_required": {"en": "Give the token a name", "zh-CN": "请填写令牌名称"},
    "tokens.shown_once": {
        "en": "Copy the token now; it is not shown again:",
        "zh-CN": "请立即复制令牌，之后将不再显示：",
    },
    "audit.title": {"en": "Audit log", "zh-CN": "审计日志"},
    "audit.at": {"en": "When (UTC)", "zh-CN": "时间（UTC）"},
    "audit.actor": {"en": "User id", "zh-CN": "用户 ID"},
    "audit.action": {"en": "Action", "zh-CN": "操作"},
    "audit.object": {"en": "Object", "zh-CN": "对象"},
    "audit.record": {"en": "Record id", "zh-CN": "记录 ID"},
    "audit.data": {"en": "Details", "zh-CN": "详情"},
    "audit.none": {"en": "No audit entries match.", "zh-CN": "没有匹配的审计记录。"},
    "audit.older": {"en": "Older", "zh-CN": "更早"},
    "filter.error": {"en": "The filter is not valid", "zh-CN": "筛选表达式无效"},
    # Record page
    "record.edit": {"en": "Edit", "zh-CN": "编辑"},
    "record.delete": {"en": "Delete", "zh-CN": "删除"},
    "record.deleted": {"en": "Deleted", "zh-CN": "已删除"},
    "record.fields": {"en": "Details", "zh-CN": "详细信息"},
    "record.related": {"en": "Related", "zh-CN": "相关记录"},
    "record.history": {"en": "History", "zh-CN": "变更历史"},
    "record.history.none": {"en": "No changes yet.", "zh-CN": "暂无变更。"},
    "record.history.created": {"en": "created the record", "zh-CN": "创建了记录"},
    "record.history.deleted": {"en": "deleted the record", "zh-CN": "删除了记录"},
    "record.history.restored": {"en": "restored the record", "zh-CN": "恢复了记录"},
    "record.by": {"en": "by {user}", "zh-CN": "操作人 {user}"},
    "record.system": {"en": "the system", "zh-CN": "系统"},
    "record.version": {"en": "version {version}", "zh-CN": "版本 {version}"},
    # Forms
    "form.new": {"en": "New {object}", "zh-CN": "新建{object}"},
    "form.edit": {"en": "Edit {object}", "zh-CN": "编辑{object}"},
    "form.save": {"en": "Save", "zh-CN": "保存"},
    "form.cancel": {"en": "Cancel", "zh-CN": "取消"},
    "form.saved": {"en": "Saved", "zh-CN": "已保存"},
    "form.invalid": {
        "en": "Some fields need attention",
        "zh-CN": "部分字段需要修改",
    },
    "form.conflict": {
        "en": "Someone else saved this record first (your version {expected}, now {current}). "
        "Reload to see their changes, then apply yours again.",
        "zh-CN": "其他人已先保存了此记录（您的版本 {expected}，当前版本 {current}）。"
        "请重新加载查看他们的修改，然后再次应用您的修改。",
    },
    "form.reload": {"en": "Reload", "zh-CN": "重新加载"},
    # Validation messages by error code; {field} is the field's label.
    "code.required": {"en": "{field} is required", "zh-CN": "{field}为必填项"},
    "code.invalid_number": {"en": "{field} must be a number", "zh-CN": "{field}必须是数字"},
    "code.invalid_integer": {"en": "{field} must be a whole number", "zh-CN": "{field}必须是整数"},
    "code.number_too_small": {"en": "{field} is too small", "zh-CN": "{field}数值过小"},
    "code.number_too_large": {"en": "{field} is too large", "zh-CN": "{field}数值过大"},
    "code.invalid_email": {
        "en": "{field} is not a valid e-mail address",
        "zh-CN": "{field}不是有效的邮箱地址",
    },
    "code.invalid_phone": {
        "en": "{field} is not a valid phone number",
        "zh-CN": "{field}不是有效的电话号码",
    },
    "code.invalid_url": {
        "en": "{field} is not a valid web address",
        "zh-CN": "{field}不是有效的网址",
    },
    "code.text_too_long": {"en": "{field} is too long", "zh-CN": "{field}过长"},
    "code.invalid_date": {"en": "{field} is not a date", "zh-CN": "{field}不是有效日期"},
    "code.invalid_datetime": {
        "en": "{field} is not a date and time",
        "zh-CN": "{field}不是有效的日期时间",
    },
    "code.invalid_choice": {
        "en": "{field}: choose one of the listed values",
        "zh-CN": "{field}：请从列表中选择",
    },
    "code.invalid_reference": {
        "en": "{field}: the chosen record does not exist",
        "zh-CN": "{field}：所选记录不存在",
    },
    "code.read_only_field": {"en": "{field} is read-only", "zh-CN": "{field}为只读字段"},
    # Kanban
    "kanban.title": {"en": "{object} by {field}", "zh-CN": "{object}（按{field}）"},
    "kanban.moved": {"en": "Moved to {value}", "zh-CN": "已移动到 {value}"},
    "kanban.move_to": {"en": "Move to", "zh-CN": "移动到"},
    "kanban.no_choice": {
        "en": "{object} has no choice field to group by.",
        "zh-CN": "{object}没有可用于分组的选项字段。",
    },
    "kanban.field": {"en": "Group by", "zh-CN": "分组字段"},
    # Builder
    "builder.title": {"en": "Object builder", "zh-CN": "对象构建器"},
    "builder.admin_only": {
        "en": "Only an administrator may change objects and fields.",
        "zh-CN": "只有管理员可以修改对象和字段。",
    },
    "builder.fields": {"en": "Fields of {object}", "zh-CN": "{object}的字段"},
    "builder.add_field": {"en": "Add a field", "zh-CN": "添加字段"},
    "builder.name": {"en": "Name (snake_case)", "zh-CN": "名称（英文小写下划线）"},
    "builder.label_en": {"en": "Label (English)", "zh-CN": "标签（英文）"},
    "builder.label_zh": {"en": "Label (Chinese)", "zh-CN": "标签（中文）"},
    "builder.type": {"en": "Type", "zh-CN": "类型"},
    "builder.required": {"en": "Required", "zh-CN": "必填"},
    "builder.choices": {"en": "Choices", "zh-CN": "选项"},
    "builder.choice_value": {"en": "Value", "zh-CN": "值"},
    "builder.add_choice": {"en": "Add a choice", "zh-CN": "添加选项"},
    "builder.target": {"en": "Refers to", "zh-CN": "关联对象"},
    "builder.expression": {"en": "Formula expression", "zh-CN": "公式表达式"},
    "builder.expression_ok": {
        "en": "Valid; the result is a {type}",
        "zh-CN": "有效；结果类型为 {type}",
    },
    "builder.currency": {"en": "Currency", "zh-CN": "币种"},
    "builder.rollup_object": {"en": "Aggregate records of", "zh-CN": "汇总对象"},
    "builder.rollup_via": {"en": "Linked through field", "zh-CN": "关联字段"},
    "builder.rollup_aggregate": {"en": "Aggregate", "zh-CN": "汇总方式"},
    "builder.rollup_field": {"en": "Field to aggregate", "zh-CN": "汇总字段"},
    "builder.save_field": {"en": "Add field", "zh-CN": "添加字段"},
    "builder.field_added": {"en": "Field {field} added", "zh-CN": "已添加字段 {field}"},
    "builder.archive": {"en": "Archive", "zh-CN": "归档"},
    "builder.restore": {"en": "Restore", "zh-CN": "恢复"},
    "builder.archived": {"en": "archived", "zh-CN": "已归档"},
    "builder.new_object": {"en": "Create an object", "zh-CN": "创建对象"},
    "builder.object_created": {"en": "Object {object} created", "zh-CN": "已创建对象 {object}"},
    "builder.create": {"en": "Create", "zh-CN": "创建"},
    # Workbenches
    "day.title": {"en": "My day", "zh-CN": "我的一天"},
    "day.tasks": {"en": "Tasks due", "zh-CN": "到期任务"},
    "day.tasks.none": {"en": "No tasks due.", "zh-CN": "没有到期任务。"},
    "day.leads": {"en": "Leads waiting for first contact", "zh-CN": "待首次联系的线索"},
    "day.leads.none": {"en": "No leads waiting.", "zh-CN": "没有待联系的线索。"},
    "day.hours": {"en": "{hours} h since assignment", "zh-CN": "已分配 {hours} 小时"},
    "day.pipeline": {"en": "My pipeline by stage", "zh-CN": "我的商机（按阶段）"},
    "team.title": {"en": "Team pipeline", "zh-CN": "团队管道"},
    "team.funnel": {"en": "Funnel", "zh-CN": "销售漏斗"},
    "team.by_rep": {"en": "Open pipeline by rep", "zh-CN": "各销售在途金额"},
    "col.stage": {"en": "Stage", "zh-CN": "阶段"},
    "col.count": {"en": "Count", "zh-CN": "数量"},
    "col.amount": {"en": "Amount", "zh-CN": "金额"},
    "col.rep": {"en": "Rep", "zh-CN": "销售"},
    "users.title": {"en": "Users", "zh-CN": "用户"},
    "truncated": {
        "en": "Showing the first {count} records.",
        "zh-CN": "仅显示前 {count} 条记录。",
    },
    "yes": {"en": "Yes", "zh-CN": "是"},
    "no": {"en": "No", "zh-CN": "否"},
}


def add_strings(strings: dict[str, dict[str, str]]) -> None:
    """Add a page module's own strings to the catalogue; a key may be defined only once.

    Page modules that arrive later (the inbox, the flow pages) keep their strings beside
    their code and add them here when imported, so two modules never edit one table.
    """
    # The same definition again is no clash: a page module is imported afresh when NiceGUI's
    # test harness resets its pages, while this catalogue stays.
    clash = sorted(k for k in set(strings) & set(STRINGS) if STRINGS[k] != strings[k])
    if clash:
        raise ValueError(f"web strings defined twice: {', '.join(clash)}")
    for key, entry in strings.items():
        if "en" not in entry or "zh-CN" not in entry:
            raise ValueError(f"web string {key!r} needs both an 'en' and a 'zh-CN' text")
    STRINGS.update(strings)


def t(key: str, language: str | None, **values: Any) -> str:
    """The string ``key`` in ``language`` (English when missing), formatted with ``values``."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(language or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def language_from_header(accept_language: str | None) -> str:
    """zh-CN when the browser's first preference is any Chinese, otherwise English."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if not tag or tag == "*":
            continue
        return "zh-CN" if tag.startswith("zh") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE

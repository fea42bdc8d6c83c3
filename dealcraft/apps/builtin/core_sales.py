"""Core sales management: the objects every new workspace starts with.

Field names are snake_case English; labels carry English and Chinese. Stage, region and the
other choice lists are ordinary field options a workspace can edit.
"""

from __future__ import annotations

from typing import Any

NAME = "core_sales"
VERSION = "1.0.0"


def _f(name: str, type_: str, en: str, zh: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "labels": {"en": en, "zh-CN": zh}, **options}


def _choices(*items: tuple[str, str, str] | tuple[str, str, str, int]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        entry: dict[str, Any] = {"value": item[0], "labels": {"en": item[1], "zh-CN": item[2]}}
        if len(item) > 3:
            entry["probability"] = item[3]
        out.append(entry)
    return out


REGIONS = _choices(
    ("华东", "East China", "华东"),
    ("华南", "South China", "华南"),
    ("华北", "North China", "华北"),
    ("华中", "Central China", "华中"),
    ("西南", "Southwest China", "西南"),
    ("西北", "Northwest China", "西北"),
    ("东北", "Northeast China", "东北"),
)

ROLES = _choices(
    ("admin", "Administrator", "系统管理员"),
    ("sales_director", "Sales director", "销售总监"),
    ("regional_manager", "Regional manager", "区域经理"),
    ("key_account_manager", "Key-account manager", "大客户经理"),
    ("sales_rep", "Sales rep", "销售代表"),
    ("solution_architect", "Solution architect", "解决方案架构师"),
    ("delivery_expert", "Delivery expert", "交付专家"),
    ("legal_counsel", "Legal counsel", "法务"),
    ("analyst", "Analyst", "分析师"),
    ("partner", "Partner (ISV)", "合作伙伴"),
)

INDUSTRIES = _choices(
    ("manufacturing", "Manufacturing", "制造业"),
    ("medical", "Medical", "医疗"),
    ("energy", "Energy", "能源"),
    ("retail", "Retail", "零售"),
    ("software", "Software", "软件"),
    ("other", "Other", "其他"),
)

STAGES = _choices(
    ("prospecting", "Prospecting", "初步接洽", 10),
    ("qualification", "Qualification", "需求确认", 20),
    ("needs_analysis", "Needs analysis", "需求分析", 40),
    ("proposal", "Proposal", "方案报价", 60),
    ("negotiation", "Negotiation", "商务谈判", 80),
    ("won", "Won", "赢单", 100),
    ("lost", "Lost", "输单", 0),
)

COMPETITORS = _choices(
    ("salesforce", "Salesforce", "Salesforce"),
    ("hubspot", "HubSpot", "HubSpot"),
    ("xiaoshouyi", "Xiaoshouyi", "销售易"),
    ("fxiaoke", "Fxiaoke", "纷享销客"),
    ("kingdee", "Kingdee", "金蝶"),
    ("yonyou", "Yonyou", "用友"),
    ("in_house", "In-house build", "自研"),
)

OBJECTS: list[dict[str, Any]] = [
    {
        "name": "region",
        "labels": {"en": "Region", "zh-CN": "区域"},
        "fields": [
            _f("name", "text", "Name", "名称", required=True),
            _f("code", "text", "Code", "编码", max_length=32),
            _f("manager", "user", "Manager", "负责人"),
        ],
    },
    {
        "name": "team",
        "labels": {"en": "Team", "zh-CN": "团队"},
        "fields": [
            _f("name", "text", "Name", "名称", required=True),
            _f("region", "choice", "Region", "区域", choices=REGIONS),
            _f("lead", "user", "Team lead", "团队负责人"),
        ],
    },
    {
        "name": "user",
        "labels": {"en": "User", "zh-CN": "用户"},
        "title_field": "name",
        "fields": [
            _f("username", "text", "Username", "用户名", required=True, max_length=64),
            _f("name", "text", "Name", "姓名"),
            _f("email", "email", "Email", "邮箱"),
            _f("phone", "phone", "Phone", "手机"),
            _f("role", "choice", "Role", "角色", choices=ROLES, default="sales_rep"),
            _f("team", "reference", "Team", "团队", object="team"),
            _f("region", "choice", "Region", "区域", choices=REGIONS),
            _f("manager", "user", "Manager", "上级"),
            _f("wecom_id", "text", "WeCom id", "企业微信ID", max_length=64),
            _f("active", "boolean", "Active", "启用", default=True),
        ],
    },
    {
        "name": "account",
        "labels": {"en": "Account", "zh-CN": "客户"},
        "fields": [
            _f("name", "text", "Name", "客户名称", required=True),
            _f("industry", "choice", "Industry", "行业", choices=INDUSTRIES),
            _f("region", "choice", "Region", "区域", choices=REGIONS),
            _f(
                "grade",
                "choice",
                "Grade",
                "客户等级",
                choices=_choices(
                    ("A", "A (strategic)", "A（战略）"),
                    ("B", "B (key)", "B（重点）"),
                    ("C", "C (standard)", "C（普通）"),
                    ("D", "D (small)", "D（小微）"),
                ),
            ),
            _f(
                "unified_social_credit_code",
                "text",
                "Unified social credit code",
                "统一社会信用代码",
                max_length=18,
            ),
            _f("owner", "user", "Owner", "负责人"),
            _f("parent_account", "reference", "Parent account", "上级客户", object="account"),
            _f("phone", "phone", "Phone", "电话"),
            _f("website", "url", "Website", "网站"),
            _f("address", "text", "Address", "地址"),
            _f("employee_count", "number", "Employees", "员工人数", integer=True, min=0),
            _f("annual_revenue", "money", "Annual revenue", "年营收", category="financial"),
            _f("credit_limit", "money", "Credit limit", "信用额度", category="financial"),
            _f(
                "supply_chain_notes",
                "long_text",
                "Supply chain",
                "供应链信息",
                category="financial",
            ),
            _f("description", "long_text", "Description", "描述"),
        ],
    },
    {
        "name": "contact",
        "labels": {"en": "Contact", "zh-CN": "联系人"},
        "fields": [
            _f("name", "text", "Name", "姓名", required=True),
            _f("account", "reference", "Account", "客户", object="account"),
            _f("title", "text", "Title", "职务"),
            _f(
                "rank",
                "choice",
                "Rank",
                "职级",
                choices=_choices(
                    ("c_level", "C-level", "高层"),
                    ("vp", "Vice president", "副总"),
                    ("director", "Director", "总监"),
                    ("manager", "Manager", "经理"),
                    ("staff", "Staff", "员工"),
                ),
            ),
            _f(
                "decision_role",
                "choice",
                "Decision role",
                "决策角色",
                choices=_choices(
                    ("decision_maker", "Decision maker", "决策者"),
                    ("influencer", "Influencer", "影响者"),
                    ("user", "User", "使用者"),
                    ("gatekeeper", "Gatekeeper", "把关者"),
                    ("champion", "Champion", "支持者（教练）"),
                    ("blocker", "Blocker", "阻碍者"),
                ),
            ),
            _f(
                "stance",
                "choice",
                "Stance",
                "态度",
                choices=_choices(
                    ("supportive", "Supportive", "支持"),
                    ("neutral", "Neutral", "中立"),
                    ("opposed", "Opposed", "反对"),
                ),
            ),
            _f("phone", "phone", "Phone", "手机", category="personal"),
            _f("email", "email", "Email", "邮箱", category="personal"),
            _f("wecom_id", "text", "WeCom id", "企业微信ID", max_length=64, category="personal"),
            _f("owner", "user", "Owner", "负责人"),
            _f(
                "last_contacted_at",
                "datetime",
                "Last contacted",
                "最近联系时间",
                category="behavioural",
            ),
        ],
    },
    {
        "name": "lead",
        "labels": {"en": "Lead", "zh-CN": "线索"},
        "fields": [
            _f("name", "text", "Name", "姓名", required=True),
            _f("company", "text", "Company", "公司"),
            _f("phone", "phone", "Phone", "手机"),
            _f("email", "email", "Email", "邮箱"),
            _f(
                "source",
                "choice",
                "Source",
                "来源",
                choices=_choices(
                    ("website", "Website", "官网"),
                    ("referral", "Referral", "转介绍"),
                    ("exhibition", "Exhibition", "展会"),
                    ("call", "Cold call", "电话拓展"),
                    ("partner", "Partner", "合作伙伴"),
                    ("tender", "Tender", "招投标"),
                    ("wecom", "WeCom", "企业微信"),
                ),
            ),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="new",
                choices=_choices(
                    ("new", "New", "新线索"),
                    ("assigned", "Assigned", "已分配"),
                    ("contacted", "Contacted", "已联系"),
                    ("qualified", "Qualified", "已确认"),
                    ("converted", "Converted", "已转化"),
                    ("disqualified", "Disqualified", "无效"),
                ),
            ),
            _f("industry", "choice", "Industry", "行业", choices=INDUSTRIES),
            _f("region", "choice", "Region", "区域", choices=REGIONS),
            _f("assigned_to", "user", "Assigned to", "分配给"),
            _f("assigned_at", "datetime", "Assigned at", "分配时间"),
            _f("first_contacted_at", "datetime", "First contacted at", "首次联系时间"),
        ],
    },
    {
        "name": "opportunity",
        "labels": {"en": "Opportunity", "zh-CN": "商机"},
        "fields": [
            _f("name", "text", "Name", "商机名称", required=True),
            _f("account", "reference", "Account", "客户", object="account"),
            _f("stage", "choice", "Stage", "阶段", choices=STAGES, default="prospecting"),
            _f("amount", "money", "Amount", "金额"),
            _f("probability", "percent", "Probability", "赢率", min=0, max=100),
            _f("close_date", "date", "Close date", "预计成交日期"),
            _f("owner", "user", "Owner", "负责人"),
            _f("competitors", "multi_choice", "Competitors", "竞争对手", choices=COMPETITORS),
            _f(
                "loss_reason",
                "choice",
                "Loss reason",
                "输单原因",
                choices=_choices(
                    ("price", "Price", "价格"),
                    ("product_fit", "Product fit", "产品匹配度"),
                    ("competitor", "Competitor", "竞争对手"),
                    ("timing", "Timing", "时机"),
                    ("no_decision", "No decision", "未决策"),
                    ("relationship", "Relationship", "客户关系"),
                ),
            ),
            _f("description", "long_text", "Description", "描述"),
            _f(
                "weighted_amount",
                "formula",
                "Weighted amount",
                "加权金额",
                expression="amount * probability / 100",
            ),
        ],
    },
    {
        "name": "contract",
        "labels": {"en": "Contract", "zh-CN": "合同"},
        "fields": [
            _f("name", "text", "Name", "合同名称", required=True),
            _f("opportunity", "reference", "Opportunity", "商机", object="opportunity"),
            _f("account", "reference", "Account", "客户", object="account"),
            _f("value", "money", "Value", "合同金额"),
            _f("signed_at", "date", "Signed at", "签约日期"),
            _f("term_months", "number", "Term (months)", "期限（月）", integer=True, min=0),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="draft",
                choices=_choices(
                    ("draft", "Draft", "草稿"),
                    ("signed", "Signed", "已签约"),
                    ("active", "Active", "履约中"),
                    ("completed", "Completed", "已完成"),
                    ("terminated", "Terminated", "已终止"),
                ),
            ),
            _f("owner", "user", "Owner", "负责人"),
        ],
    },
    {
        "name": "payment",
        "labels": {"en": "Payment", "zh-CN": "回款"},
        "fields": [
            _f("contract", "reference", "Contract", "合同", object="contract", required=True),
            _f("amount", "money", "Amount", "金额"),
            _f("due_date", "date", "Due date", "计划回款日期"),
            _f("paid_at", "date", "Paid at", "实际回款日期"),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="planned",
                choices=_choices(
                    ("planned", "Planned", "计划中"),
                    ("paid", "Paid", "已回款"),
                    ("overdue", "Overdue", "逾期"),
                ),
            ),
        ],
    },
    {
        "name": "activity",
        "labels": {"en": "Activity", "zh-CN": "活动"},
        "title_field": "subject",
        "fields": [
            _f(
                "type",
                "choice",
                "Type",
                "类型",
                choices=_choices(
                    ("visit", "Visit", "拜访"),
                    ("call", "Call", "电话"),
                    ("email", "Email", "邮件"),
                    ("meeting", "Meeting", "会议"),
                    ("im", "IM", "即时消息"),
                ),
            ),
            _f("subject", "text", "Subject", "主题", required=True),
            _f("account", "reference", "Account", "客户", object="account"),
            _f("contact", "reference", "Contact", "联系人", object="contact"),
            _f("opportunity", "reference", "Opportunity", "商机", object="opportunity"),
            _f("occurred_at", "datetime", "Occurred at", "发生时间"),
            _f(
                "duration_minutes",
                "number",
                "Duration (minutes)",
                "时长（分钟）",
                integer=True,
                min=0,
            ),
            _f("outcome", "text", "Outcome", "结果"),
            _f("transcript", "long_text", "Transcript", "记录"),
            _f("owner", "user", "Owner", "负责人"),
        ],
    },
    {
        "name": "proposal",
        "labels": {"en": "Proposal", "zh-CN": "方案"},
        "fields": [
            _f("name", "text", "Name", "方案名称", required=True),
            _f("opportunity", "reference", "Opportunity", "商机", object="opportunity"),
            _f("version_number", "number", "Version", "版本号", integer=True, min=1, default=1),
            _f("amount", "money", "Amount", "报价金额"),
            _f("file", "file", "File", "文件"),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="draft",
                choices=_choices(
                    ("draft", "Draft", "草稿"),
                    ("review", "In review", "审核中"),
                    ("sent", "Sent", "已发送"),
                    ("accepted", "Accepted", "已接受"),
                    ("rejected", "Rejected", "已拒绝"),
                ),
            ),
            _f("owner", "user", "Owner", "负责人"),
        ],
    },
    {
        "name": "product",
        "labels": {"en": "Product", "zh-CN": "产品"},
        "fields": [
            _f("name", "text", "Name", "产品名称", required=True),
            _f("code", "text", "Code", "产品编码", max_length=64),
            _f(
                "category",
                "choice",
                "Category",
                "类别",
                choices=_choices(
                    ("software", "Software", "软件"),
                    ("hardware", "Hardware", "硬件"),
                    ("service", "Service", "服务"),
                ),
            ),
            _f("list_price", "money", "List price", "标准价"),
            _f("active", "boolean", "Active", "在售", default=True),
        ],
    },
    {
        "name": "deal_room",
        "labels": {"en": "Deal room", "zh-CN": "作战单元"},
        "fields": [
            _f("name", "text", "Name", "名称", required=True),
            _f("account", "reference", "Account", "客户", object="account"),
            _f("lead", "user", "Lead", "负责人"),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="open",
                choices=_choices(("open", "Open", "进行中"), ("closed", "Closed", "已关闭")),
            ),
        ],
    },
    {
        "name": "deal_room_member",
        "labels": {"en": "Deal room member", "zh-CN": "作战单元成员"},
        "title_field": "deal_room",
        "fields": [
            _f(
                "deal_room", "reference", "Deal room", "作战单元", object="deal_room", required=True
            ),
            _f("user", "user", "Member", "成员", required=True),
            _f("role", "choice", "Role", "角色", choices=ROLES),
        ],
    },
    {
        "name": "task",
        "labels": {"en": "Task", "zh-CN": "任务"},
        "title_field": "subject",
        "fields": [
            _f("subject", "text", "Subject", "主题", required=True),
            _f("assignee", "user", "Assignee", "负责人"),
            _f("due", "date", "Due", "截止日期"),
            _f(
                "status",
                "choice",
                "Status",
                "状态",
                default="open",
                choices=_choices(
                    ("open", "Open", "待办"),
                    ("in_progress", "In progress", "进行中"),
                    ("done", "Done", "已完成"),
                    ("cancelled", "Cancelled", "已取消"),
                ),
            ),
            _f(
                "priority",
                "choice",
                "Priority",
                "优先级",
                default="normal",
                choices=_choices(
                    ("high", "High", "高"), ("normal", "Normal", "中"), ("low", "Low", "低")
                ),
            ),
            _f("related_object", "text", "Related object", "关联对象", max_length=63),
            _f("related_id", "number", "Related record id", "关联记录ID", integer=True),
            _f("description", "long_text", "Description", "描述"),
        ],
    },
]

# Fields added once every object exists, because they aggregate over other objects.
ROLLUPS: list[tuple[str, dict[str, Any]]] = [
    (
        "account",
        _f(
            "contact_count",
            "rollup",
            "Contacts",
            "联系人数",
            object="contact",
            via="account",
            aggregate="count",
        ),
    ),
    (
        "account",
        _f(
            "open_pipeline",
            "rollup",
            "Open pipeline",
            "在途商机金额",
            object="opportunity",
            via="account",
            aggregate="sum",
            field="amount",
            where="stage not in ('won', 'lost')",
        ),
    ),
    (
        "contract",
        _f(
            "paid_amount",
            "rollup",
            "Paid",
            "已回款",
            object="payment",
            via="contract",
            aggregate="sum",
            field="amount",
            where="status = 'paid'",
        ),
    ),
    (
        "contract",
        _f("outstanding", "formula", "Outstanding", "待回款", expression="value - paid_amount"),
    ),
]

"""The shipped example flows, as the YAML an admin would import (``dealcraft flow export``
prints them back). The demo installs them disabled; ``dealcraft flow enable NAME`` turns one on.

``{wecom_url}`` is filled from ``DEALCRAFT_FLOW_WECOM_ROBOT_URL`` when they are installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dealcraft.flows.settings import get_flow_settings

if TYPE_CHECKING:
    from dealcraft.flows.service import FlowService

SERVICE_ACCOUNT = "flow_bot"
SERVICE_ROLE = "sales_director"

LEAD_NOT_CONTACTED = """
name: lead_not_contacted
label: {en: New lead not contacted in 24 hours, zh-CN: 新线索24小时未跟进提醒}
enabled: false
run_as: flow_bot
trigger: {type: record.created, object: lead}
steps:
  - {id: wait_a_day, type: wait, duration: 24h}
  - id: still_new
    type: condition
    if: "first_contacted_at is null and status in ('new', 'assigned')"
  - {id: assignee, type: find_record, object: user, record_id: "{{record.assigned_to}}"}
  # The assignee's team, or (unassigned, or no team) the team of the lead's region.
  - id: team
    type: find_record
    object: team
    record_id: "{{steps.assignee.team}}"
    where: "region = :region"
    params: {region: "{{record.region}}"}
  - id: tell_team_lead
    type: notify
    channel: inbox
    user: "{{steps.team.lead}}"
    title: "线索 {{record.name}} 24小时内未联系"
    text: >-
      {{record.company}} 的线索 {{record.name}} 创建已超过24小时，仍未联系
      （负责人：{{steps.assignee.name}}）。
"""

PROPOSAL_DECK = """
name: proposal_deck
label: {en: Proposal deck for the owner, zh-CN: 方案阶段生成方案并通知负责人}
enabled: false
run_as: flow_bot
trigger: {type: record.updated, object: opportunity, changed_to: {stage: proposal}}
steps:
  - id: deck
    type: generate_deck
    title: "{{record.name}}"
    subtitle: "方案报价 · {{today}}"
    file_name: "{{record.name}} 方案.pptx"
    slides:
      - title: 项目概况
        bullets:
          - "商机：{{record.name}}"
          - "金额：¥{{record.amount}}"
          - "预计成交：{{record.close_date}}"
      - {title: 下一步, bullets: ["与客户确认方案范围", "安排方案讲解会议"]}
  # The deck is attached to a draft proposal of the opportunity (which has no file field).
  - id: proposal
    type: create_record
    object: proposal
    values:
      name: "{{record.name}} 方案"
      opportunity: "{{record.id}}"
      amount: "{{record.amount}}"
      owner: "{{record.owner}}"
      file: "{{steps.deck.file_id}}"
      status: draft
  - {id: owner, type: find_record, object: user, record_id: "{{record.owner}}"}
  - id: tell_owner
    type: notify
    channel: wecom
    url: "{wecom_url}"
    title: "方案已生成：{{record.name}}"
    text: >-
      <@{{steps.owner.wecom_id}}> 商机 **{{record.name}}** 进入方案阶段，
      方案草稿 {{steps.deck.name}} 已生成，请在 Dealcraft 中查看。
"""

WON_ONBOARDING = """
name: won_onboarding
label: {en: Won deal contract and onboarding, zh-CN: 赢单后生成合同草稿与交付任务}
enabled: false
run_as: flow_bot
trigger: {type: record.updated, object: opportunity, changed_to: {stage: won}}
steps:
  - id: contract
    type: create_record
    object: contract
    values:
      name: "{{record.name}} 合同"
      opportunity: "{{record.id}}"
      account: "{{record.account}}"
      value: "{{record.amount}}"
      owner: "{{record.owner}}"
      status: draft
  - id: kickoff
    type: create_task
    subject: "{{record.name}}：项目启动会"
    assignee: "{{record.owner}}"
    due: 3d
    priority: high
  - id: handover
    type: create_task
    subject: "{{record.name}}：交付交接与客户资料收集"
    assignee: "{{record.owner}}"
    due: 5d
  - id: training
    type: create_task
    subject: "{{record.name}}：安排客户培训"
    assignee: "{{record.owner}}"
    due: 14d
"""

EXAMPLES = {
    "lead_not_contacted": LEAD_NOT_CONTACTED,
    "proposal_deck": PROPOSAL_DECK,
    "won_onboarding": WON_ONBOARDING,
}


def example_yaml(name: str, wecom_url: str | None = None) -> str:
    url = wecom_url or get_flow_settings().wecom_robot_url
    return EXAMPLES[name].replace("{wecom_url}", url)


def install_examples(service: FlowService, wecom_url: str | None = None) -> list[dict[str, Any]]:
    """Save the example flows, disabled, with their service account (a director)."""
    service.ensure_service_account(SERVICE_ACCOUNT, SERVICE_ROLE, name="Flow bot")
    return [service.import_yaml(example_yaml(name, wecom_url)) for name in EXAMPLES]

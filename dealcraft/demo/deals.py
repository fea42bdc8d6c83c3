"""Deals and the work around them: opportunities, contracts, payments, proposals,
activities with transcripts, and tasks."""

from __future__ import annotations

import calendar
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from dealcraft.apps.builtin import core_sales
from dealcraft.demo import text
from dealcraft.demo.builder import DemoBuilder
from dealcraft.demo.people import Weighted

PROBABILITY = {stage["value"]: stage["probability"] for stage in core_sales.STAGES}
OPEN_STAGE_PICK = Weighted(text.STAGE_WEIGHTS)
LOSS_PICK = Weighted(text.LOSS_REASON_WEIGHTS)
COMPETITOR_PICK = Weighted(text.COMPETITOR_WEIGHTS)
COMPETITOR_COUNT = Weighted({0: 30, 1: 40, 2: 22, 3: 8})
ACTIVITY_PICK = Weighted(text.ACTIVITY_WEIGHTS)
CLOSED_SHARE = 0.46  # of all opportunities, won or lost
# Days from a deal's creation to its close (the sales cycle), for closed deals.
CYCLE_DAYS = (20, 180)
MIN_AMOUNT, MAX_AMOUNT = 50_000, 5_000_000


# Opportunities ---------------------------------------------------------------------------
def build_opportunities(b: DemoBuilder) -> None:
    rng = b.rng("opportunities")
    # Creation dates come from their own generator, so the deals themselves stay the same.
    dates = random.Random(f"{b.seed}:opportunities:created")
    acc = b.accounts
    # Strategic accounts carry more deals than small ones.
    account_pick = Weighted([(i, text.GRADE_DEALS[g]) for i, g in enumerate(acc.grade)])
    total = b.scale.opportunities
    b.write_chunks(
        "opportunity",
        (_opportunity(b, rng, dates, account_pick.pick(rng)) for _ in range(total)),
        total=total,
        on_written=b.deals.ids.extend,
    )


def _opportunity(
    b: DemoBuilder, rng: random.Random, dates: random.Random, index: int
) -> dict[str, Any]:
    acc, deals = b.accounts, b.deals
    industry, grade = acc.industry[index], acc.grade[index]
    owner = acc.owner[index]
    if rng.random() < 0.15:
        owner = rng.choice(b.org.reps_by_region[acc.region[index]]).user_id

    # Closed deals are won as often as their owner's skill says.
    # Closed deals are created a sales cycle before their close; open ones were created
    # some weeks ago, the further along the longer.
    if rng.random() < CLOSED_SHARE:
        stage = "won" if rng.random() < b.org.skill.get(owner, 0.5) else "lost"
        close = b.today - timedelta(days=rng.randint(1, 720))
        created_on = close - timedelta(days=dates.randint(*CYCLE_DAYS))
    else:
        stage = OPEN_STAGE_PICK.pick(rng)
        close = b.today + timedelta(days=rng.randint(7, 60 + 30 * _stage_distance(stage)))
        age = dates.randint(3, 40) + 20 * (5 - _stage_distance(stage))
        created_on = b.today - timedelta(days=age)

    median = text.MEDIAN_AMOUNT[industry] * text.GRADE_FACTOR[grade]
    amount = median * math.exp(rng.gauss(0, 0.7))
    amount = float(round(min(MAX_AMOUNT, max(MIN_AMOUNT, amount)), -3))
    competitors = _competitors(rng)
    name = f"{acc.short_name[index]}{rng.choice(text.PROJECTS[industry])}{rng.choice(text.PHASES)}"
    row: dict[str, Any] = {
        "name": name + "项目",
        "account": acc.ids[index],
        "stage": stage,
        "amount": amount,
        "probability": PROBABILITY[stage],
        "close_date": close,
        "owner": owner,
        "competitors": competitors,
        "created_at": b.created(dates, created_on),
    }
    if stage == "lost":
        reason = LOSS_PICK.pick(rng)
        if reason == "competitor" and not competitors:
            competitors.append(COMPETITOR_PICK.pick(rng))
        row["loss_reason"] = reason

    deals.account.append(index)
    deals.owner.append(owner)
    deals.stage.append(stage)
    deals.amount.append(amount)
    deals.close_date.append(close)
    deals.name.append(row["name"])
    deals.competitor.append(competitors[0] if competitors else None)
    deals.versions.append(_versions(rng, stage))
    return row


def _stage_distance(stage: str) -> int:
    """How many stages a deal still has to go (prospecting is furthest from closing)."""
    order = ["negotiation", "proposal", "needs_analysis", "qualification", "prospecting"]
    return order.index(stage) + 1


def _competitors(rng: random.Random) -> list[str]:
    wanted = COMPETITOR_COUNT.pick(rng)
    chosen: list[str] = []
    while len(chosen) < wanted:
        competitor = COMPETITOR_PICK.pick(rng)
        if competitor not in chosen:
            chosen.append(competitor)
    return chosen


def _versions(rng: random.Random, stage: str) -> int:
    """How many proposal versions a deal has: none before the proposal stage."""
    if stage == "proposal":
        return rng.choice((1, 1, 2))
    if stage == "negotiation":
        return rng.choice((2, 2, 3))
    if stage == "won":
        return rng.choice((1, 2, 2, 3, 3, 4))
    return 0


# Contracts and payments ------------------------------------------------------------------
def build_contracts(b: DemoBuilder) -> None:
    rng = b.rng("contracts")
    deals = b.deals
    won = [i for i, stage in enumerate(deals.stage) if stage == "won"]
    plans: list[tuple[float, date, int, int]] = []  # value, signed, term, installments
    contract_ids: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for i in won:
            row, plan = _contract(b, rng, i)
            plans.append(plan)
            yield row

    b.write_chunks("contract", rows(), total=len(won), on_written=contract_ids.extend)

    payments_total = sum(plan[3] for plan in plans)
    b.write_chunks(
        "payment",
        (
            payment
            for contract_id, plan in zip(contract_ids, plans, strict=True)
            for payment in _payments(b, rng, contract_id, plan)
        ),
        total=payments_total,
    )


def _contract(
    b: DemoBuilder, rng: random.Random, i: int
) -> tuple[dict[str, Any], tuple[float, date, int, int]]:
    deals, acc = b.deals, b.accounts
    value = float(round(deals.amount[i] * rng.uniform(0.9, 1.0), -2))
    signed = min(b.today, deals.close_date[i] + timedelta(days=rng.randint(0, 14)))
    term = rng.choice((12, 12, 24, 36))
    ends = _add_months(signed, term)
    if rng.random() < 0.03:
        status = "terminated"
    elif ends < b.today:
        status = "completed"
    elif (b.today - signed).days < 30:
        status = "signed"
    else:
        status = "active"
    installments = 1 if value < 200_000 else rng.choice((2, 3, 3, 4))
    row = {
        "name": deals.name[i].removesuffix("项目") + "合同",
        "opportunity": deals.ids[i],
        "account": acc.ids[deals.account[i]],
        "value": value,
        "signed_at": signed,
        "term_months": term,
        "status": status,
        "owner": deals.owner[i],
    }
    return row, (value, signed, term, installments)


def _payments(
    b: DemoBuilder, rng: random.Random, contract_id: int, plan: tuple[float, date, int, int]
) -> Iterator[dict[str, Any]]:
    """Instalments spread over the term; the last one takes the remainder of the value."""
    value, signed, term, count = plan
    shares = [rng.uniform(0.2, 0.4) for _ in range(count)]
    scale = value / sum(shares)
    amounts = [float(round(share * scale, -2)) for share in shares[:-1]]
    amounts.append(round(value - sum(amounts), 2))
    for n, amount in enumerate(amounts):
        due = _add_months(signed, term * n // count) + timedelta(days=15)
        row: dict[str, Any] = {"contract": contract_id, "amount": amount, "due_date": due}
        if due > b.today:
            row["status"] = "planned"
        elif rng.random() < 0.85:
            row["status"] = "paid"
            row["paid_at"] = min(b.today, due + timedelta(days=rng.randint(-10, 20)))
        else:
            row["status"] = "overdue"
        yield row


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Proposals ------------------------------------------------------------------------------
def build_proposals(b: DemoBuilder) -> None:
    rng = b.rng("proposals")
    deals = b.deals
    total = sum(deals.versions)
    b.write_chunks(
        "proposal",
        (
            row
            for i, versions in enumerate(deals.versions)
            for row in _proposals(b, rng, i, versions)
        ),
        total=total,
    )


def _proposals(b: DemoBuilder, rng: random.Random, i: int, versions: int) -> Iterator[dict]:
    """Versions 1..n: each revision comes down in price towards the deal's amount; the
    earlier ones were turned down, the last one's status follows the stage."""
    if not versions:
        return
    deals = b.deals
    stage = deals.stage[i]
    last_status = {
        "won": "accepted",
        "negotiation": rng.choice(("sent", "review")),
        "proposal": rng.choice(("draft", "review", "sent")),
    }[stage]
    markup = rng.uniform(0.08, 0.25)
    for version in range(1, versions + 1):
        remaining = (versions - version) / max(1, versions - 1) if versions > 1 else 0
        amount = deals.amount[i] * (1 + markup * remaining)
        yield {
            "name": f"{deals.name[i].removesuffix('项目')}解决方案 V{version}",
            "opportunity": deals.ids[i],
            "version_number": version,
            "amount": float(round(amount, -2)),
            "status": last_status if version == versions else "rejected",
            "owner": deals.owner[i],
        }


# Activities -----------------------------------------------------------------------------
def build_activities(b: DemoBuilder) -> None:
    rng = b.rng("activities")
    acc = b.accounts
    account_pick = Weighted([(i, text.GRADE_DEALS[g]) for i, g in enumerate(acc.grade)])
    total = b.scale.activities
    dates = random.Random(f"{b.seed}:activities:created")
    b.write_chunks(
        "activity", (_activity(b, rng, dates, account_pick) for _ in range(total)), total=total
    )


def _activity(
    b: DemoBuilder, rng: random.Random, dates: random.Random, account_pick: Weighted
) -> dict[str, Any]:
    acc, deals = b.accounts, b.deals

    # Most activities work a deal (before it closed); the rest keep the account warm.
    deal = None
    if deals.ids and rng.random() < 0.75:
        deal = rng.randrange(len(deals.ids))
        index = deals.account[deal]
        owner = deals.owner[deal]
        end = min(b.today, deals.close_date[deal])
    else:
        index = account_pick.pick(rng)
        owner = acc.owner[index]
        end = b.today
    day = end - timedelta(days=int(rng.expovariate(1 / 45)) % 365)
    contact = acc.contact_start[index] + rng.randrange(acc.contact_count[index])
    kind = ACTIVITY_PICK.pick(rng)
    industry = acc.industry[index]
    topic = rng.choice(text.PROJECTS[industry])
    call, title = acc.contact_call[contact], acc.contact_title[contact]
    occurred_at = b.moment(rng, day)
    row: dict[str, Any] = {
        "type": kind,
        "subject": rng.choice(text.SUBJECTS[kind]).format(topic=topic, title=title),
        "account": acc.ids[index],
        "contact": acc.contact_ids[contact],
        "occurred_at": occurred_at,
        "outcome": rng.choice(text.OUTCOMES),
        "owner": owner,
        # Logged in the CRM a little after it happened.
        "created_at": b.before_now(occurred_at + timedelta(minutes=dates.randint(5, 240))),
    }
    if deal is not None:
        row["opportunity"] = deals.ids[deal]
    if kind in text.DURATION:
        low, high = text.DURATION[kind]
        minutes = rng.randint(low, high)
        row["duration_minutes"] = minutes
        competitor = deals.competitor[deal] if deal is not None else None
        amount = deals.amount[deal] if deal is not None else 300_000.0
        row["transcript"] = _transcript(
            rng, industry, call, title, topic, minutes, competitor, amount
        )
    elif kind == "im":
        reply = rng.choice(text.IM_REPLIES)
        row["transcript"] = f"{call}：{rng.choice(text.IM_MESSAGES)}\n我：{reply}"
    return row


def _transcript(
    rng: random.Random,
    industry: str,
    call: str,
    title: str,
    topic: str,
    minutes: int,
    competitor: str | None,
    amount: float,
) -> str:
    """A short visit or call note: opener, a pain point, budget, maybe a competitor, next step."""
    budget = max(5, round(amount * rng.uniform(0.8, 1.3) / 10_000))
    values = {"contact": call, "title": title, "topic": topic, "minutes": minutes, "budget": budget}
    sentences = [
        rng.choice(text.OPENERS).format(**values),
        rng.choice(text.PAIN_POINTS[industry]) + "。",
    ]
    if rng.random() < 0.7:
        sentences.append(rng.choice(text.BUDGET_SENTENCES).format(**values) + "。")
    if competitor is not None and rng.random() < 0.8:
        name = text.COMPETITOR_NAMES[competitor]
        sentences.append(rng.choice(text.COMPETITOR_SENTENCES).format(competitor=name) + "。")
    sentences.append(rng.choice(text.NEXT_STEPS).format(**values) + "。")
    return "".join(sentences)


# Tasks ----------------------------------------------------------------------------------
def build_tasks(b: DemoBuilder) -> None:
    rng = b.rng("tasks")
    total = b.scale.tasks
    b.write_chunks("task", (_task(b, rng) for _ in range(total)), total=total)


def _task(b: DemoBuilder, rng: random.Random) -> dict[str, Any]:
    acc, deals = b.accounts, b.deals
    if deals.ids and rng.random() < 0.6:
        deal = rng.randrange(len(deals.ids))
        index, assignee = deals.account[deal], deals.owner[deal]
        related = ("opportunity", deals.ids[deal])
    else:
        index = rng.randrange(len(acc.ids))
        assignee = acc.owner[index]
        related = ("account", acc.ids[index])
    due = b.today + timedelta(days=rng.randint(-30, 21))
    # Past-due tasks are mostly done; the rest are the overdue ones a manager chases.
    if due < b.today:
        status = rng.choices(("done", "open", "in_progress", "cancelled"), (70, 18, 8, 4))[0]
    else:
        status = rng.choices(("open", "in_progress", "done"), (60, 30, 10))[0]
    return {
        "subject": rng.choice(text.TASK_SUBJECTS).format(account=acc.short_name[index]),
        "assignee": assignee,
        "due": due,
        "status": status,
        "priority": rng.choices(("high", "normal", "low"), (20, 60, 20))[0],
        "related_object": related[0],
        "related_id": related[1],
    }

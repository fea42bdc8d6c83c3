"""Customers: accounts (with their buying committees as contacts) and leads."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from faker.providers.company.zh_CN import Provider as CompanyProvider

from dealcraft.demo import people, text
from dealcraft.demo.builder import DemoBuilder
from dealcraft.demo.people import Weighted

REGION_PICK = Weighted(text.REGION_WEIGHTS)
INDUSTRY_PICK = Weighted(text.INDUSTRY_WEIGHTS)
GRADE_PICK = Weighted(text.GRADE_WEIGHTS)
RANK_PICK = Weighted(text.RANK_WEIGHTS)
ROLE_PICKS = {rank: Weighted(roles) for rank, roles in text.ROLES_BY_RANK.items()}
STANCE_PICKS = {role: Weighted(s) for role, s in text.STANCE_BY_ROLE.items()}
STANCE_DEFAULT = Weighted(text.STANCE_DEFAULT)
SOURCE_PICK = Weighted(text.LEAD_SOURCE_WEIGHTS)
STATUS_PICK = Weighted(text.LEAD_STATUS_WEIGHTS)
# Faker's two-character brand prefixes (和泰, 凌云); longer ones read as whole company names.
FAKER_BRANDS = sorted(
    {
        p
        for p in CompanyProvider.company_prefixes
        if len(p) == 2 and all("一" <= c <= "鿿" for c in p)
    }
)
EMPLOYEES = {"A": 3_000, "B": 800, "C": 200, "D": 40}
# How long ago accounts were opened: before any of the demo's deals was created.
ACCOUNT_AGE_DAYS = (910, 1460)


def build_accounts(b: DemoBuilder) -> None:
    """Accounts in chunks; each chunk's contacts are written right after it."""
    rng = b.rng("accounts")
    contact_rng = random.Random(f"{b.seed}:contacts")
    # Creation dates from their own generator, so the accounts and contacts stay the same.
    dates = random.Random(f"{b.seed}:accounts:created")
    acc = b.accounts
    total = b.scale.accounts
    contact_counts = [contact_rng.randint(3, 6) for _ in range(total)]
    contacts_total = sum(contact_counts)
    seen: set[str] = set()
    domains: list[str] = []  # of the accounts generated but not yet written
    groups: dict[str, list[tuple[int, str]]] = {i: [] for i in text.INDUSTRY_WEIGHTS}
    contacts_done = 0

    def on_written(ids: list[int]) -> None:
        nonlocal contacts_done
        start = len(acc.ids)
        acc.ids.extend(ids)
        rows = []
        for offset, domain in enumerate(domains):
            index = start + offset
            acc.contact_start.append(len(acc.contact_call))
            acc.contact_count.append(contact_counts[index])
            for n in range(contact_counts[index]):
                row = _contact(b, contact_rng, index, n, domain)
                # Met some time after the account was opened, and before today.
                met = acc.created_on[index] + timedelta(days=dates.randint(0, 400))
                row["created_at"] = b.created(dates, min(met, b.today))
                rows.append(row)
        domains.clear()
        acc.contact_ids.extend(b.write("contact", rows, done=contacts_done, total=contacts_total))
        contacts_done += len(rows)

    def generate(count: int, as_groups: bool) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            row, domain = _account(b, rng, seen, groups, as_groups)
            # Opened before its oldest deal was (deals go back up to 900 days).
            opened = b.today - timedelta(days=dates.randint(*ACCOUNT_AGE_DAYS))
            acc.created_on.append(opened)
            row["created_at"] = b.created(dates, opened)
            domains.append(domain)
            yield row

    # Group headquarters go first, so their subsidiaries can refer to them.
    group_count = min(total, max(6, total // 40))
    done = b.write_chunks(
        "account", generate(group_count, True), total=total, on_written=on_written
    )
    b.write_chunks(
        "account",
        generate(total - group_count, False),
        total=total,
        done=done,
        on_written=on_written,
    )


def _account(
    b: DemoBuilder,
    rng: random.Random,
    seen: set[str],
    groups: dict[str, list[tuple[int, str]]],
    as_group: bool,
) -> tuple[dict[str, Any], str]:
    acc = b.accounts
    index = len(acc.region)
    region = REGION_PICK.pick(rng)
    industry = INDUSTRY_PICK.pick(rng)
    grade = "A" if as_group else GRADE_PICK.pick(rng)
    city, province, area_code, division = rng.choice(text.REGIONS[region][1])

    # A name: a group, a subsidiary of a group in the same industry, or a company of its own.
    parent = None
    brand = _brand(b, rng)
    if as_group:
        name = text.GROUP_TEMPLATES[industry].format(brand=brand)
    elif groups[industry] and rng.random() < 0.08:
        parent_index, group_brand = rng.choice(groups[industry])
        parent = acc.ids[parent_index]
        word = text.SUBSIDIARY_WORDS[industry]
        name = text.SUBSIDIARY_TEMPLATE.format(group=group_brand, city=city, word=word)
    elif industry == "software" and rng.random() < 0.4:
        name = b.fake.company()
    else:
        template = rng.choice(text.ACCOUNT_TEMPLATES[industry])
        name = template.format(brand=brand, city=city, nth=rng.choice(text.NTH))
    for attempt in range(5):
        if name not in seen:
            break
        name = (
            name.replace("有限公司", f"（{city}）有限公司", 1)
            if attempt == 0
            else (
                text.ACCOUNT_TEMPLATES[industry][0].format(
                    brand=_brand(b, rng), city=city, nth=rng.choice(text.NTH)
                )
            )
        )
    if name in seen:
        name = f"{name}（{index + 1}）"
    seen.add(name)
    if as_group:
        groups[industry].append((index, brand))

    # The owner: a rep of the region; East China's strategic accounts go to its KAM.
    reps = b.org.reps_by_region[region]
    owner = rng.choice(reps).user_id
    if region == "华东" and grade in ("A", "B") and rng.random() < 0.5:
        owner = b.org.users["kam_east"]

    domain = people.domain(rng)
    employees = max(5, int(EMPLOYEES[grade] * math.exp(rng.gauss(0, 0.6))))
    street = f"{b.fake.street_name()}{rng.randint(1, 999)}号"
    address = f"{province}{street}" if province.startswith(city) else f"{province}{city}市{street}"
    row: dict[str, Any] = {
        "name": name,
        "industry": industry,
        "region": region,
        "grade": grade,
        "unified_social_credit_code": people.credit_code(rng, division),
        "owner": owner,
        "phone": people.landline(rng, area_code) if rng.random() < 0.8 else people.mobile(rng),
        "address": address,
        "employee_count": employees,
        "annual_revenue": round(employees * rng.uniform(0.3, 1.5) * 10_000, -4),
        "description": text.INDUSTRY_DESCRIPTIONS[industry],
    }
    if parent is not None:
        row["parent_account"] = parent
    if rng.random() < 0.85:
        row["website"] = f"https://www.{domain}"

    acc.region.append(region)
    acc.industry.append(industry)
    acc.grade.append(grade)
    acc.owner.append(owner)
    acc.short_name.append(_short(name))
    return row, domain


def _brand(b: DemoBuilder, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return b.fake.random_element(FAKER_BRANDS)
    return "".join(rng.sample(text.BRAND_CHARS, 2))


def _short(name: str) -> str:
    for suffix in text.COMPANY_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _contact(b: DemoBuilder, rng: random.Random, index: int, n: int, domain: str) -> dict[str, Any]:
    acc = b.accounts
    industry = acc.industry[index]
    # Every buying committee has a decision maker at the top; the rest vary.
    if n == 0:
        rank = rng.choice(("c_level", "vp"))
        role = "decision_maker"
    else:
        rank = RANK_PICK.pick(rng)
        role = ROLE_PICKS[rank].pick(rng)
    stance = STANCE_PICKS.get(role, STANCE_DEFAULT).pick(rng)
    titles = text.MEDICAL_TITLES if industry == "medical" else text.TITLES
    honorifics = text.MEDICAL_HONORIFICS if industry == "medical" else text.HONORIFICS
    title = rng.choice(titles[rank])
    name, pinyin, surname = people.person_name(rng)
    acc.contact_call.append(sys.intern(surname + honorifics[rank]))
    acc.contact_title.append(sys.intern(title))
    row: dict[str, Any] = {
        "name": name,
        "account": acc.ids[index],
        "title": title,
        "rank": rank,
        "decision_role": role,
        "stance": stance,
        "phone": people.mobile(rng),
        "email": f"{pinyin}@{domain}",
        "wecom_id": people.wecom_id(rng, pinyin),
        "owner": acc.owner[index],
    }
    if rng.random() < 0.7:
        row["last_contacted_at"] = b.moment(rng, b.today - timedelta(days=rng.randint(0, 120)))
    return row


def build_leads(b: DemoBuilder) -> None:
    rng = b.rng("leads")
    dates = random.Random(f"{b.seed}:leads:created")
    total = b.scale.leads
    b.write_chunks("lead", (_lead(b, rng, dates) for _ in range(total)), total=total)


def _lead(b: DemoBuilder, rng: random.Random, dates: random.Random) -> dict[str, Any]:
    region = REGION_PICK.pick(rng)
    status = STATUS_PICK.pick(rng)
    name, pinyin, _surname = people.person_name(rng)
    row: dict[str, Any] = {
        "name": name,
        "company": b.fake.company(),
        "phone": people.mobile(rng),
        "email": f"{pinyin}@{people.domain(rng)}",
        "source": SOURCE_PICK.pick(rng),
        "status": status,
        "industry": INDUSTRY_PICK.pick(rng),
        "region": region,
    }
    if status == "new":
        # Came in over the last two weeks and waits to be assigned.
        arrived = b.now - timedelta(minutes=dates.randint(10, 14 * 24 * 60))
        row["created_at"] = b.before_now(arrived)
        return row

    # Assigned some time ago; most are contacted within hours, some only days later, and
    # leads still "assigned" were never contacted at all.
    assigned_at = b.now - timedelta(minutes=rng.randint(60, 90 * 24 * 60))
    row["assigned_to"] = rng.choice(b.org.reps_by_region[region]).user_id
    row["assigned_at"] = assigned_at
    # Came in up to two days before it was assigned.
    arrived = assigned_at - timedelta(minutes=dates.randint(5, 2 * 24 * 60))
    row["created_at"] = b.before_now(arrived)
    contacted = status in ("contacted", "qualified", "converted") or (
        status == "disqualified" and rng.random() < 0.6
    )
    if contacted:
        hours = min(24 * 14, math.exp(rng.gauss(math.log(5), 1.2)))
        first = assigned_at + timedelta(hours=hours)
        row["first_contacted_at"] = min(first, b.now)
    return row

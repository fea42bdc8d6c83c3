"""The demo builder: shared state of one build, the chunked writer and the build order.

Every record is written through the record service (``bulk_create`` as the system
principal), one chunk per call, so a large build never holds more than a chunk of rows and
each step reports progress as it goes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from faker import Faker

from dealcraft.access.principal import SYSTEM
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.demo.scales import Scale
from dealcraft.errors import Conflict

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

META_SCALE = "demo_scale"
META_BUILDING = "demo_building"
CHINA_TZ = timezone(timedelta(hours=8), "CST")


@dataclass
class Rep:
    user_id: int
    region: str
    skill: float  # share of this rep's closed deals that are won


@dataclass
class Org:
    users: dict[str, int] = field(default_factory=dict)
    reps_by_region: dict[str, list[Rep]] = field(default_factory=dict)
    skill: dict[int, float] = field(default_factory=dict)
    all_reps: list[int] = field(default_factory=list)


@dataclass
class Accounts:
    """Per account (by index): id, region, industry, grade, owner, short name, contacts."""

    ids: list[int] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    industry: list[str] = field(default_factory=list)
    grade: list[str] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    short_name: list[str] = field(default_factory=list)
    # Contacts of account i are contact_ids[contact_start[i] : contact_start[i] + count[i]];
    # contact_call[j] is how a rep addresses contact j ("王总"), contact_title[j] their title.
    contact_start: list[int] = field(default_factory=list)
    contact_count: list[int] = field(default_factory=list)
    contact_ids: list[int] = field(default_factory=list)
    contact_call: list[str] = field(default_factory=list)
    contact_title: list[str] = field(default_factory=list)
    created_on: list[date] = field(default_factory=list)  # the account's creation day


@dataclass
class Deals:
    """Per opportunity (by index) what later steps need: contracts, proposals, activities."""

    ids: list[int] = field(default_factory=list)
    account: list[int] = field(default_factory=list)  # account index
    owner: list[int] = field(default_factory=list)
    stage: list[str] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)
    close_date: list[date] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    competitor: list[str | None] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  # proposal versions to write


class DemoBuilder:
    """One build of the demo company into an empty workspace."""

    def __init__(
        self,
        workspace: Any,
        scale: Scale,
        *,
        seed: int,
        progress: Progress | None = None,
        today: date | None = None,
    ) -> None:
        self.workspace = workspace
        self.records = workspace.records
        self.scale = scale
        self.seed = seed
        self._progress = progress
        # Dates are relative to the build day: won deals closed in the past, open ones close
        # in the future. Two builds with one seed on the same day are identical.
        self.today = today or datetime.now(CHINA_TZ).date()
        # Records are written with historical creation dates, never later than this.
        self.started = datetime.now(UTC)
        self.fake = Faker("zh_CN")
        self.counts: dict[str, int] = {}
        self.org = Org()
        self.accounts = Accounts()
        self.deals = Deals()

    # Randomness ---------------------------------------------------------------------------
    def rng(self, step: str) -> random.Random:
        """A generator for one step, so changing one step leaves the others' data unchanged."""
        self.fake.seed_instance(f"{self.seed}:{step}:faker")
        return random.Random(f"{self.seed}:{step}")

    def moment(self, rng: random.Random, day: date) -> datetime:
        """A time within office hours (China time) on ``day``."""
        minutes = rng.randint(8 * 60 + 30, 19 * 60)
        return datetime(
            day.year,
            day.month,
            day.day,
            minutes // 60,
            minutes % 60,
            rng.randrange(60),
            tzinfo=CHINA_TZ,
        )

    def created(self, rng: random.Random, day: date) -> datetime:
        """A record's creation: office hours on ``day``, but never after the build began
        (the record service refuses a creation date in the future)."""
        return self.before_now(self.moment(rng, day))

    def before_now(self, moment: datetime) -> datetime:
        return min(moment, self.started)

    @property
    def now(self) -> datetime:
        return datetime(self.today.year, self.today.month, self.today.day, 19, 0, tzinfo=CHINA_TZ)

    # Writing ------------------------------------------------------------------------------
    def report(self, step: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(step, done, total)

    def write(
        self,
        object_name: str,
        rows: list[dict[str, Any]],
        *,
        step: str | None = None,
        done: int = 0,
        total: int | None = None,
    ) -> list[int]:
        """Create ``rows`` in one record-service call; returns their ids in order.

        ``done`` and ``total`` place this chunk within its step for the progress report. A
        row's ``created_at`` is kept (the demo's history is back-dated, so a sales cycle
        can be measured); rows without one are created now.
        """
        if not rows:
            return []
        label = step or object_name
        goal = total if total is not None else done + len(rows)
        result = self.records.bulk_create(
            SYSTEM,
            object_name,
            rows,
            batch_size=2_000,
            progress=lambda n: self.report(label, done + n, goal),
            keep_created_at=True,
        )
        self.counts[object_name] = self.counts.get(object_name, 0) + result.created
        return result.ids

    def write_chunks(
        self,
        object_name: str,
        rows: Iterable[dict[str, Any]],
        *,
        total: int,
        done: int = 0,
        on_written: Callable[[list[int]], None] | None = None,
    ) -> int:
        """Write a lazily generated stream of rows, ``scale.chunk`` rows per call.

        ``on_written`` gets each chunk's ids before the next chunk is generated. Returns
        ``done`` plus the number of rows written, for a step written in several streams.
        """
        chunk: list[dict[str, Any]] = []
        self.report(object_name, done, total)
        for row in rows:
            chunk.append(row)
            if len(chunk) >= self.scale.chunk:
                ids = self.write(object_name, chunk, done=done, total=total)
                done += len(chunk)
                chunk = []
                if on_written is not None:
                    on_written(ids)
        if chunk:
            ids = self.write(object_name, chunk, done=done, total=total)
            done += len(chunk)
            if on_written is not None:
                on_written(ids)
        self.report(object_name, done, max(done, total))
        return done

    # Workspace markers --------------------------------------------------------------------
    def check_empty(self) -> None:
        """Refuse to build into a workspace that holds users or accounts already."""
        existing = self.records.count(SYSTEM, "user") + self.records.count(SYSTEM, "account")
        if not existing:
            return
        building = get_meta(self.workspace, META_BUILDING)
        if building is not None:
            raise Conflict(
                f"a demo build ({building}) stopped part-way in this workspace; delete it "
                "(dealcraft demo --reset) and build again",
                code="demo_incomplete",
                details={"building": building},
            )
        raise Conflict(
            f"the demo company is built into an empty workspace; this one has {existing} users "
            "and accounts already (dealcraft demo --reset starts from an empty one)",
            code="demo_workspace_not_empty",
            details={"records": existing},
        )

    def run(self, steps: Iterable[tuple[str, Callable[[DemoBuilder], None]]]) -> dict[str, int]:
        self.check_empty()
        set_meta(self.workspace, META_BUILDING, f"{self.scale.name} seed={self.seed}")
        started = time.monotonic()
        for name, step in steps:
            step_started = time.monotonic()
            step(self)
            logger.info(
                "demo step done",
                extra={"step": name, "seconds": round(time.monotonic() - step_started, 2)},
            )
        # Written last: a build that stopped part-way has no scale and is detected.
        set_meta(self.workspace, META_SCALE, self.scale.name)
        delete_meta(self.workspace, META_BUILDING)
        logger.info(
            "demo company built",
            extra={
                "scale": self.scale.name,
                "seed": self.seed,
                "records": sum(self.counts.values()),
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        return dict(self.counts)


# dc_meta helpers ----------------------------------------------------------------------------
def get_meta(workspace: Any, key: str) -> str | None:
    with workspace.engine.connect() as conn:
        return conn.execute(sa.select(system.meta.c.value).where(system.meta.c.key == key)).scalar()


def set_meta(workspace: Any, key: str, value: str) -> None:
    with write_transaction(workspace.engine) as conn:
        updated = conn.execute(
            system.meta.update().where(system.meta.c.key == key).values(value=value)
        )
        if updated.rowcount == 0:
            conn.execute(system.meta.insert().values(key=key, value=value))


def delete_meta(workspace: Any, key: str) -> None:
    with write_transaction(workspace.engine) as conn:
        conn.execute(system.meta.delete().where(system.meta.c.key == key))

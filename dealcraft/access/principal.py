"""The principal: who is acting, with which roles, teams, region and purposes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Every record-service call carries one. ``is_system`` is for installers and migrations."""

    user_id: int | None
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    team_ids: frozenset[int] = field(default_factory=frozenset)
    region: str | None = None
    purposes: frozenset[str] = field(default_factory=frozenset)
    language: str = "en"
    is_system: bool = False
    # The user and everyone reporting to them, transitively (a manager sees what they see).
    reports: frozenset[int] = field(default_factory=frozenset)
    deal_room_accounts: frozenset[int] = field(default_factory=frozenset)
    # What the credential in use allows ("*" for a password session or a full token).
    scopes: frozenset[str] = frozenset({"*"})

    def with_request(self, *, language: str | None = None, purpose: str | None = None) -> Principal:
        """This principal for one request: its language and declared purpose."""
        return replace(
            self,
            language=language or self.language,
            purposes=frozenset({purpose}) if purpose else frozenset(),
        )

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return self.is_system or "admin" in self.roles

    def expression_params(self) -> dict[str, Any]:
        """Parameters available to expressions: ``:user.id``, ``:user.region`` ..."""
        return {
            "user": {
                "id": self.user_id,
                "username": self.username,
                "region": self.region,
                "teams": sorted(self.team_ids),
                "reports": sorted(self.reports | ({self.user_id} if self.user_id else set())),
                "deal_room_accounts": sorted(self.deal_room_accounts),
            }
        }


SYSTEM = Principal(user_id=None, username="system", roles=frozenset({"admin"}), is_system=True)

"""Identities: users with argon2 passwords, and hashed, expiring, revocable API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.access.tables import login_attempts
from dealcraft.audit import AuditLog
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import Conflict, NotFound, Unauthorized
from dealcraft.records.service import RecordService
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "dct_"
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
# A resolved token is trusted this long before it is looked up again; revocation takes
# effect within this window on other processes (immediately in the revoking one).
TOKEN_CACHE_SECONDS = 5.0

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("dealcraft-timing-equaliser")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Identity:
    def __init__(
        self,
        engine: Engine,
        records: RecordService,
        token_ttl_hours: int = 720,
        audit: AuditLog | None = None,
    ) -> None:
        self.engine = engine
        self.records = records
        self.audit = audit
        self.token_ttl = timedelta(hours=token_ttl_hours)
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    # Users --------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, **fields: Any) -> dict[str, Any]:
        if self.find_user(username) is not None:
            raise Conflict(
                f"a user named {username!r} exists already",
                code="user_exists",
                details={"field": "username", "value": username},
            )
        user = self.records.create(SYSTEM, "user", {"username": username, **fields})
        self.set_password(user["id"], password)
        logger.info("user created", extra={"user_id": user["id"]})
        return user

    def set_password(self, user_id: int, password: str) -> None:
        if len(password) < 8:
            from dealcraft.errors import FieldError, ValidationFailed

            raise ValidationFailed(
                [
                    FieldError(
                        "password", "password_too_short", "a password has 8 or more characters"
                    )
                ]
            )
        now = utcnow()
        hashed = _hasher.hash(password)
        c = system.credentials
        with write_transaction(self.engine) as conn:
            updated = conn.execute(
                c.update()
                .where(c.c.user_id == user_id)
                .values(password_hash=hashed, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(
                    c.insert().values(user_id=user_id, password_hash=hashed, updated_at=now)
                )

    def find_user(self, username: str) -> dict[str, Any] | None:
        page = self.records.list(
            SYSTEM, "user", where="username = :name", params={"name": username}, limit=1
        )
        return page.data[0] if page.data else None

    def principal_for_user(self, user: dict[str, Any], language: str = "en") -> Principal:
        return Principal(
            user_id=user["id"],
            username=user["username"],
            roles=frozenset({user["role"]}) if user.get("role") else frozenset(),
            team_ids=frozenset({user["team"]}) if user.get("team") else frozenset(),
            region=user.get("region"),
            language=language,
            reports=self._reports(user["id"]),
            deal_room_accounts=self._deal_room_accounts(user["id"]),
        )

    def _reports(self, user_id: int) -> frozenset[int]:
        """Everyone who reports to ``user_id``, directly or through other managers."""
        found: set[int] = set()
        frontier = [user_id]
        while frontier and len(found) < 100_000:
            page = self.records.list(
                SYSTEM, "user", where="manager_id in :ids", params={"ids": frontier}, limit=500
            )
            frontier = [u["id"] for u in page.data if u["id"] not in found and u["id"] != user_id]
            found.update(frontier)
            cursor = page.next_cursor
            while cursor:
                more = self.records.list(
                    SYSTEM,
                    "user",
                    where="manager_id in :ids",
                    params={"ids": frontier},
                    limit=500,
                    cursor=cursor,
                )
                found.update(u["id"] for u in more.data)
                cursor = more.next_cursor
        return frozenset(found)

    def _deal_room_accounts(self, user_id: int) -> frozenset[int]:
        if "deal_room_member" not in self.records.registry.view().objects:
            return frozenset()
        page = self.records.list(
            SYSTEM, "deal_room_member", where="user_id = :uid", params={"uid": user_id}, limit=500
        )
        rooms = [m["deal_room"] for m in page.data]
        if not rooms:
            return frozenset()
        accounts = self.records.list(
            SYSTEM,
            "deal_room",
            where="id in :ids and status = 'open'",
            params={"ids": rooms},
            limit=500,
        )
        return frozenset(r["account"] for r in accounts.data if r["account"])

    def authenticate(self, username: str, password: str) -> Principal:
        """Check a password; repeated failures lock the username for a while."""
        try:
            self._refuse_if_locked(username)
        except Unauthorized:
            self._audit("auth.lockout", None, {"username": username})
            raise
        try:
            principal = self._verify(username, password)
        except Unauthorized:
            self._record_failure(username)
            self._audit("auth.login_failed", None, {"username": username})
            raise
        self._clear_failures(username)
        self._audit("auth.login", principal.user_id, {"username": username})
        return principal

    def _audit(self, action: str, actor_id: int | None, data: dict[str, Any]) -> None:
        if self.audit is None:
            return
        category = "admin" if action.startswith("token.") else "auth"
        with write_transaction(self.engine) as conn:
            self.audit.record(conn, action=action, category=category, actor_id=actor_id, data=data)

    def _refuse_if_locked(self, username: str) -> None:
        a = login_attempts
        with self.engine.connect() as conn:
            locked_until = conn.execute(
                sa.select(a.c.locked_until).where(a.c.username == username)
            ).scalar()
        if locked_until is not None and locked_until > utcnow():
            seconds = int((locked_until - utcnow()).total_seconds()) + 1
            raise Unauthorized(
                f"too many failed sign-ins for {username!r}; try again in {seconds} s",
                code="account_locked",
                status=429,
                details={"retry_after": seconds},
            )

    def _record_failure(self, username: str) -> None:
        a = login_attempts
        now = utcnow()
        with write_transaction(self.engine) as conn:
            row = conn.execute(sa.select(a).where(a.c.username == username)).first()
            if row is None or now - row.first_failure_at > LOCKOUT_WINDOW:
                conn.execute(a.delete().where(a.c.username == username))
                conn.execute(a.insert().values(username=username, failures=1, first_failure_at=now))
                failures = 1
            else:
                failures = row.failures + 1
                locked = now + LOCKOUT_DURATION if failures >= LOCKOUT_FAILURES else None
                conn.execute(
                    a.update()
                    .where(a.c.username == username)
                    .values(failures=failures, locked_until=locked)
                )
        if failures >= LOCKOUT_FAILURES:
            logger.warning("sign-in locked", extra={"username": username, "failures": failures})

    def _clear_failures(self, username: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.username == username))

    def _verify(self, username: str, password: str) -> Principal:
        user = self.find_user(username)
        stored = None
        if user is not None and user.get("active", True) is not False:
            with self.engine.connect() as conn:
                stored = conn.execute(
                    sa.select(system.credentials.c.password_hash).where(
                        system.credentials.c.user_id == user["id"]
                    )
                ).scalar()
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
            if stored is None:
                raise VerificationError("unknown user")
        except (VerificationError, InvalidHashError) as e:
            raise Unauthorized("wrong username or password", code="invalid_credentials") from e
        assert user is not None
        return self.principal_for_user(user)

    # Tokens --------------------------------------------------------------------------------
    def issue_token(
        self,
        principal: Principal,
        name: str = "api",
        scopes: list[str] | None = None,
        ttl: timedelta | None = None,
    ) -> tuple[str, datetime]:
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = utcnow() + (ttl or self.token_ttl)
        with write_transaction(self.engine) as conn:
            conn.execute(
                system.api_tokens.insert().values(
                    user_id=principal.user_id,
                    token_hash=hash_token(raw),
                    name=name,
                    scopes=scopes or ["*"],
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )
        self._audit("token.issue", principal.user_id, {"name": name, "scopes": scopes or ["*"]})
        return raw, expires_at

    def revoke_token_id(self, principal: Principal, token_id: int) -> None:
        """Revoke one of your tokens (an admin may revoke anyone's)."""
        t = system.api_tokens
        query = t.update().where(t.c.id == token_id, t.c.revoked_at.is_(None))
        if not principal.is_admin:
            query = query.where(t.c.user_id == principal.user_id)
        with write_transaction(self.engine) as conn:
            done = conn.execute(query.values(revoked_at=utcnow()))
        if done.rowcount == 0:
            raise NotFound(
                f"no active token with id {token_id}",
                code="token_not_found",
                details={"id": token_id},
            )
        with self._lock:
            self._cache.clear()
        self._audit("token.revoke", principal.user_id, {"token_id": token_id})

    def revoke_token(self, raw: str) -> None:
        t = system.api_tokens
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                t.update()
                .where(t.c.token_hash == hash_token(raw), t.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        with self._lock:
            self._cache.pop(hash_token(raw), None)
        if done.rowcount == 0:
            raise NotFound("no such active token", code="token_not_found")

    def principal_for_token(self, raw: str) -> Principal:
        digest = hash_token(raw)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
            return cached[1]
        t = system.api_tokens
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.user_id, t.c.expires_at, t.c.revoked_at, t.c.scopes).where(
                    t.c.token_hash == digest
                )
            ).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("the token is unknown or revoked", code="invalid_token")
        if row.expires_at is not None and row.expires_at < utcnow():
            raise Unauthorized("the token has expired; request a new one", code="token_expired")
        try:
            user = self.records.get(SYSTEM, "user", row.user_id)
        except NotFound as e:
            raise Unauthorized("the token's user no longer exists", code="invalid_token") from e
        if user.get("active") is False:
            raise Unauthorized("the token's user is deactivated", code="user_inactive")
        principal = replace(self.principal_for_user(user), scopes=frozenset(row.scopes or ["*"]))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal

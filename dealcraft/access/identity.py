"""Identities: users with argon2 passwords, and hashed, expiring, revocable API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import Conflict, NotFound, Unauthorized
from dealcraft.records.service import RecordService
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "dct_"
# A resolved token is trusted this long before it is looked up again; revocation takes
# effect within this window on other processes (immediately in the revoking one).
TOKEN_CACHE_SECONDS = 5.0

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("dealcraft-timing-equaliser")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Identity:
    def __init__(self, engine: Engine, records: RecordService, token_ttl_hours: int = 720) -> None:
        self.engine = engine
        self.records = records
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
        )

    def authenticate(self, username: str, password: str) -> Principal:
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
        return raw, expires_at

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
                sa.select(t.c.user_id, t.c.expires_at, t.c.revoked_at).where(
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
        principal = self.principal_for_user(user)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal

"""Typed settings read from ``DEALCRAFT_*`` environment variables, checked at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})
DEVELOPMENT_SECRET = "development"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEALCRAFT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("dealcraft-data"))
    database_url: str | None = None
    secret_key: str = DEVELOPMENT_SECRET
    queue_url: str | None = None
    demo_password: str = "dealcraft-demo"
    token_ttl_hours: int = Field(default=24 * 30, ge=1)
    schema_refresh_seconds: float = Field(default=1.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgres")):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "DEALCRAFT_SECRET_KEY is a placeholder; set a long random value in production"
            )
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("DEALCRAFT_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dealcraft.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one message per environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = "DEALCRAFT_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else ""
            value = err.get("input")
            where = f"{key}={value!r}: " if key else ""
            lines.append(f"{where}{err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(lines)) from e


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

"""Settings of the flow engine, read from ``DEALCRAFT_FLOW_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEALCRAFT_FLOW_", extra="ignore")

    # Outbound e-mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "dealcraft@localhost"
    smtp_timeout: float = Field(default=10.0, gt=0)

    # Execution: how long a claim lasts, retries, and the worker's polling pace.
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_backoff_seconds: float = Field(default=600.0, ge=0)
    pump_seconds: float = Field(default=0.5, gt=0)
    http_timeout: float = Field(default=10.0, gt=0)

    # The human verification gate.
    verification_amount: float = Field(default=500_000, ge=0)
    similarity_limit: float = Field(default=0.8, gt=0, le=1)

    # The WeCom group robot the shipped "proposal deck" flow posts to.
    wecom_robot_url: str = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=REPLACE_WITH_ROBOT_KEY"
    )


@lru_cache(maxsize=1)
def get_flow_settings() -> FlowSettings:
    return FlowSettings()

"""Fixtures for flow stories: a workspace with a service account, an engine that runs inline,
and local receivers for e-mail and webhooks."""

from __future__ import annotations

import pytest
from huey import MemoryHuey

from dealcraft.flows.engine import FlowEngine
from dealcraft.flows.settings import FlowSettings

from .sinks import SmtpSink, WebhookSink


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    yield sink
    sink.close()


@pytest.fixture
def webhook_sink():
    sink = WebhookSink()
    yield sink
    sink.close()


def flow_settings(smtp_port: int = 25, **overrides) -> FlowSettings:
    values = {
        "smtp_port": smtp_port,
        "backoff_seconds": 0.0,
        "max_attempts": 3,
        "lease_seconds": 30,
        "http_timeout": 5,
    }
    values.update(overrides)
    return FlowSettings(**values)


@pytest.fixture
def flows(crm, smtp_sink):
    """The flow engine of a CRM workspace (both backends), run inline; flow_bot is a director."""
    engine = FlowEngine(crm, settings=flow_settings(smtp_sink.port), huey=MemoryHuey())
    engine.service.ensure_service_account("flow_bot", "sales_director")
    return engine


@pytest.fixture
def flows_sqlite(crm_sqlite, smtp_sink):
    engine = FlowEngine(crm_sqlite, settings=flow_settings(smtp_sink.port), huey=MemoryHuey())
    engine.service.ensure_service_account("flow_bot", "sales_director")
    return engine

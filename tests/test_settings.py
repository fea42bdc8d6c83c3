"""Settings are read from DEALCRAFT_* variables and checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealcraft.settings import PLACEHOLDER_SECRETS, SettingsError, load_settings

GOOD_SECRET = "k" * 48


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No DEALCRAFT_* variable of the machine running the tests leaks into a story."""
    import os

    for key in list(os.environ):
        if key.startswith("DEALCRAFT_"):
            monkeypatch.delenv(key)


def test_load_settings_defaults_to_a_sqlite_file_under_the_data_dir(monkeypatch, tmp_path):
    # given only a data directory
    monkeypatch.setenv("DEALCRAFT_DATA_DIR", str(tmp_path / "data"))

    # when the settings are loaded
    settings = load_settings()

    # then the database is a SQLite file in it, and the environment is development
    expected = (tmp_path / "data" / "dealcraft.db").resolve()
    assert settings.resolved_database_url == f"sqlite:///{expected}"
    assert settings.env == "development"


def test_load_settings_reads_database_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEALCRAFT_DATABASE_URL", "postgresql://crm@127.0.0.1/crm")
    assert load_settings().resolved_database_url == "postgresql://crm@127.0.0.1/crm"


def test_load_settings_default_data_dir_is_relative_dealcraft_data():
    assert load_settings().data_dir == Path("dealcraft-data")


@pytest.mark.parametrize("secret", sorted(PLACEHOLDER_SECRETS | {"Change-Me", " dev "}))
def test_load_settings_in_production_refuses_a_placeholder_secret(monkeypatch, secret):
    monkeypatch.setenv("DEALCRAFT_ENV", "production")
    monkeypatch.setenv("DEALCRAFT_SECRET_KEY", secret)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "DEALCRAFT_SECRET_KEY" in str(refused.value)
    assert "placeholder" in str(refused.value)


def test_load_settings_in_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("DEALCRAFT_ENV", "production")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "DEALCRAFT_SECRET_KEY" in str(refused.value)


def test_load_settings_in_production_refuses_a_short_secret(monkeypatch):
    monkeypatch.setenv("DEALCRAFT_ENV", "production")
    monkeypatch.setenv("DEALCRAFT_SECRET_KEY", "short-but-not-a-placeholder")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "DEALCRAFT_SECRET_KEY" in str(refused.value) and "32" in str(refused.value)


def test_load_settings_in_production_accepts_a_long_random_secret(monkeypatch):
    monkeypatch.setenv("DEALCRAFT_ENV", "production")
    monkeypatch.setenv("DEALCRAFT_SECRET_KEY", GOOD_SECRET)
    assert load_settings().secret_key == GOOD_SECRET


def test_load_settings_in_development_allows_the_placeholder_secret():
    assert load_settings().secret_key == "development"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("DEALCRAFT_DATABASE_URL", "mysql://x@127.0.0.1/crm", "DEALCRAFT_DATABASE_URL"),
        ("DEALCRAFT_ENV", "staging", "DEALCRAFT_ENV"),
        ("DEALCRAFT_TOKEN_TTL_HOURS", "forever", "DEALCRAFT_TOKEN_TTL_HOURS"),
        ("DEALCRAFT_TOKEN_TTL_HOURS", "0", "DEALCRAFT_TOKEN_TTL_HOURS"),
        ("DEALCRAFT_SCHEMA_REFRESH_SECONDS", "-1", "DEALCRAFT_SCHEMA_REFRESH_SECONDS"),
    ],
)
def test_load_settings_with_bad_value_names_the_variable_and_the_value(
    monkeypatch, key, value, named
):
    monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert named in message and repr(value) in message


def test_load_settings_with_overrides_checks_them_too():
    with pytest.raises(SettingsError) as refused:
        load_settings(env="production", secret_key="changeme")
    assert "DEALCRAFT_SECRET_KEY" in str(refused.value)

"""Settings: embedded defaults, seed variable names, secrets hidden, bad values name the variable."""

from __future__ import annotations

import pytest

from cardflow.errors import ConfigurationError
from cardflow.settings import load_settings


def test_embedded_defaults_with_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POSTGRES_HOST", "S3_BUCKET", "SNOWFLAKE_ACCOUNT", "CARDFLOW_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.uses_embedded_postgres
    assert not s.uses_s3
    assert s.warehouse == "duckdb"
    assert s.duckdb_path.name == "warehouse.duckdb"
    assert s.lake_dir.parent == s.resolved_data_dir


def test_original_snowflake_names_by_default() -> None:
    s = load_settings()
    assert (s.snowflake_database, s.snowflake_warehouse) == ("SPORTS_CARD_ANALYTICS", "ANALYTICS_WH")
    assert (s.snowflake_raw_schema, s.snowflake_silver_schema, s.snowflake_gold_schema) == ("RAW", "SILVER", "GOLD")
    assert s.snowflake_role is None  # optional: the user's default role


def test_a_snowflake_block_name_alone_selects_snowflake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDFLOW_SNOWFLAKE_BLOCK", "cardflow-snowflake")
    s = load_settings()
    assert s.snowflake_account is None and s.warehouse == "snowflake"


def test_missing_lists_every_unset_variable() -> None:
    s = load_settings(snowflake_account="acct")
    assert s.missing("snowflake_account", "snowflake_user", "snowflake_password") == [
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
    ]


def test_seed_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("POSTGRES_PORT", "6543")
    monkeypatch.setenv("S3_BUCKET", "bronze-bucket")
    monkeypatch.setenv("S3_PREFIX", "/events/")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
    monkeypatch.setenv("VOLUME_ANOMALY_PCT", "35")
    s = load_settings()
    assert (s.postgres_host, s.postgres_port) == ("db.internal", 6543)
    assert s.uses_s3 and s.s3_prefix == "events"
    assert s.warehouse == "snowflake"
    assert s.volume_anomaly_pct == 35


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text("RAW_EVENTS_FRESHNESS_WARN_HOURS=3\nCARDFLOW_WAREHOUSE=duckdb\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().raw_events_freshness_warn_hours == 3


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CARDFLOW_WAREHOUSE", "bigquery"),
        ("VOLUME_ANOMALY_PCT", "lots"),
        ("RAW_EVENTS_FRESHNESS_ERROR_HOURS", "-1"),
        ("S3_ENDPOINT_URL", "localhost:9000"),
        ("RABBITMQ_URL", "http://guest@localhost"),
        ("SNOWFLAKE_DATABASE", "cardflow; drop table x"),
        ("POSTGRES_PORT", "99999"),
    ],
)
def test_bad_value_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.test/T000/B000/XXXX")
    s = load_settings()
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s.model_dump())
    assert "XXXX" not in repr(s)
    assert s.snowflake_password.get_secret_value() == "hunter2-secret"


def test_bad_secret_url_does_not_echo_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "not-a-url-but-secret-token")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "secret-token" not in str(info.value)


def test_require_names_missing_variable() -> None:
    s = load_settings()
    with pytest.raises(ConfigurationError, match="S3_BUCKET"):
        s.require("s3_bucket")


def test_rabbitmq_url_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """RABBITMQ_URL holds the broker password: never in repr, str, dumps or JSON of the settings."""
    monkeypatch.setenv("RABBITMQ_URL", "amqps://ingest:rabbit-pw-123@b-1.mq.example:5671/%2F")
    s = load_settings()
    for text in (repr(s), str(s), str(s.model_dump()), s.model_dump_json()):
        assert "rabbit-pw-123" not in text
    assert s.rabbitmq_url.get_secret_value() == "amqps://ingest:rabbit-pw-123@b-1.mq.example:5671/%2F"


def test_bad_rabbitmq_url_does_not_echo_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "http://ingest:rabbit-pw-123@b-1.mq.example/")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == "RABBITMQ_URL" and "rabbit-pw-123" not in str(info.value)

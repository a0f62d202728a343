"""tasks.dbt without dbt running: settings -> environment, summaries, failure messages, and the
dbt project's payload field list mirroring the event contract."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import yaml

from cardflow.contract import PAYLOAD_FIELDS
from cardflow.errors import QualityGateFailed, TransformError
from cardflow.settings import load_settings
from cardflow.transform import dbt as dbt_tasks


def test_dbt_env_derives_everything_from_settings(tmp_path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        warehouse_choice="snowflake",
        snowflake_account="acct",
        snowflake_user="me",
        snowflake_password="s3cret-value",
        snowflake_gold_schema="MARTS",
        raw_events_freshness_warn_hours=1.5,
        volume_anomaly_pct=30,
        snowflake_port=8080,
    )
    env = dbt_tasks.dbt_env(settings)
    assert env["DBT_TARGET"] == "snowflake"
    assert env["SNOWFLAKE_GOLD_SCHEMA"] == "MARTS"
    assert env["RAW_EVENTS_FRESHNESS_WARN_HOURS"] == "1.5"
    assert env["VOLUME_ANOMALY_PCT"] == "30.0"
    assert env["SNOWFLAKE_PORT"] == "8080"
    # the password only under dbt's secret prefix (scrubbed from dbt logs)
    assert env["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"] == "s3cret-value"
    assert "SNOWFLAKE_PASSWORD" not in env
    assert "SNOWFLAKE_HOST" not in env  # unset optional values are left out


def test_dbt_environment_sets_and_restores(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDFLOW_DUCKDB_PATH", raising=False)
    settings = load_settings(data_dir=tmp_path)  # no Snowflake host configured
    monkeypatch.setenv("SNOWFLAKE_HOST", "stray-host")  # ...but the parent process has one
    with dbt_tasks.dbt_environment(settings):
        assert os.environ["CARDFLOW_DUCKDB_PATH"] == str(settings.duckdb_path)
        assert "SNOWFLAKE_HOST" not in os.environ  # not configured: a stray value must not leak in
    assert "CARDFLOW_DUCKDB_PATH" not in os.environ
    assert os.environ["SNOWFLAKE_HOST"] == "stray-host"


def _result(*nodes: tuple[str, str, str, int | None], success: bool = True) -> SimpleNamespace:
    results = [
        SimpleNamespace(
            node=SimpleNamespace(unique_id=f"{rt}.cardflow.{name}", resource_type=rt, name=name),
            status=status,
            message="msg",
            failures=failures,
            execution_time=0.1,
        )
        for rt, name, status, failures in nodes
    ]
    return SimpleNamespace(
        success=success, exception=None, result=SimpleNamespace(results=results, elapsed_time=1.0)
    )


def test_build_failure_lists_every_failed_node(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = dbt_tasks.summarize(
        "build",
        _result(
            ("model", "fct_orders", "success", None),
            ("test", "unique_fct_orders_order_id", "fail", 3),
            ("model", "dim_card", "error", None),
            ("test", "non_negative_fct_orders_quantity", "warn", 2),
            success=False,
        ),
    )
    monkeypatch.setattr(dbt_tasks, "invoke_dbt", lambda *a, **k: summary)
    with pytest.raises(TransformError) as failure:
        dbt_tasks.dbt_build(load_settings(data_dir=tmp_path))
    message = str(failure.value)
    assert "2 failed node(s)" in message
    assert "test unique_fct_orders_order_id: fail (3 failing rows)" in message
    assert "model dim_card: error" in message
    assert "non_negative" not in message  # warnings do not fail the run
    assert [n.name for n in summary.warnings] == ["non_negative_fct_orders_quantity"]


def test_stale_raw_fails_the_freshness_gate(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = dbt_tasks.summarize(
        "source freshness", _result(("source", "events", "error", None), success=False)
    )
    monkeypatch.setattr(dbt_tasks, "invoke_dbt", lambda *a, **k: summary)
    with pytest.raises(QualityGateFailed) as failure:
        dbt_tasks.dbt_source_freshness(load_settings(data_dir=tmp_path))
    assert failure.value.gate == "raw_events_freshness"


def test_summary_markdown_lists_warnings() -> None:
    fresh = dbt_tasks.summarize("source freshness", _result(("source", "events", "pass", None)))
    build = dbt_tasks.summarize("build", _result(("test", "assert_no_oversold_skus", "warn", 4)))
    text = dbt_tasks.summary_markdown(fresh, build)
    assert "## Warnings (1)" in text and "assert_no_oversold_skus: warn (4 failing rows)" in text


def test_dbt_payload_fields_mirror_the_event_contract() -> None:
    """dbt_project.yml vars.payload_fields decodes exactly the contract's fields, same kinds."""
    project = yaml.safe_load((dbt_tasks.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    fields = project["vars"]["payload_fields"]
    assert {t: {n: k.split(":")[0] for n, k in f.items()} for t, f in fields.items()} == PAYLOAD_FIELDS

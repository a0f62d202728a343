"""cardflow.transform.dbt without dbt running: the temporary profile, project variables, summaries,
and the dbt project's payload field list mirroring the event contract."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from pydantic import SecretStr

from cardflow.contract import DECIMAL_SCALES, PAYLOAD_FIELDS, WAREHOUSE_DECIMAL_SCALE, dbt_payload_fields
from cardflow.errors import TransformError
from cardflow.settings import load_settings
from cardflow.transform import dbt as dbt_tasks
from cardflow.warehouse.connection import DuckDBTarget
from cardflow.warehouse.snowflake import SnowflakeParams


def _snowflake(**overrides) -> SnowflakeParams:
    values = {
        "account": "acct",
        "user": "me",
        "password": SecretStr("s3cret-value"),
        "database": "SPORTS_CARD_ANALYTICS",
        "warehouse": "ANALYTICS_WH",
        "source": "block 'prod'",
    }
    return SnowflakeParams(**(values | overrides))


def test_dbt_env_holds_project_variables_and_no_credentials(tmp_path) -> None:
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
    assert "VOLUME_ANOMALY_PCT" not in env  # volume is the RAW checks' (Python), not a dbt test
    # connection values live in the temporary profile only
    assert "s3cret-value" not in env.values()
    assert not {"SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PORT", "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"} & set(env)


def test_dbt_environment_sets_and_restores(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDFLOW_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("SNOWFLAKE_GOLD_SCHEMA", "PARENT_GOLD")
    settings = load_settings(data_dir=tmp_path, snowflake_gold_schema="GOLD_AUDIT")
    with dbt_tasks.dbt_environment(settings):
        assert os.environ["CARDFLOW_DUCKDB_PATH"] == str(settings.duckdb_path)
        assert os.environ["SNOWFLAKE_GOLD_SCHEMA"] == "GOLD_AUDIT"
    assert "CARDFLOW_DUCKDB_PATH" not in os.environ
    assert os.environ["SNOWFLAKE_GOLD_SCHEMA"] == "PARENT_GOLD"


def test_snowflake_profile_renders_the_chosen_parameters(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="snowflake", dbt_threads=3)
    params = _snowflake(role=None, host="localhost", port=8123, protocol="http")
    profile = dbt_tasks.render_profile(settings, params)
    output = profile["cardflow"]["outputs"][profile["cardflow"]["target"]]
    assert profile["cardflow"]["target"] == "snowflake"
    assert output == output | {
        "type": "snowflake",
        "account": "acct",
        "user": "me",
        "password": "s3cret-value",
        "database": "SPORTS_CARD_ANALYTICS",
        "warehouse": "ANALYTICS_WH",
        "schema": "SILVER",
        "threads": 3,
        "host": "localhost",
        "port": 8123,
        "protocol": "http",
    }
    assert "role" not in output  # optional: Snowflake uses the user's default role


def test_duckdb_profile_points_at_the_file(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    profile = dbt_tasks.render_profile(settings, DuckDBTarget(tmp_path / "w.duckdb"))
    output = profile["cardflow"]["outputs"]["duckdb"]
    assert (output["type"], output["path"], output["schema"]) == ("duckdb", str(tmp_path / "w.duckdb"), "SILVER")


def test_dbt_gets_a_private_temporary_profile_and_never_the_password_in_environ(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During the invocation: profile file 0600 in a 0700 directory holding the credentials, and no
    environment variable holds the password; afterwards the directory is gone."""
    settings = load_settings(data_dir=tmp_path, warehouse_choice="snowflake", dbt_node_tasks=False)
    seen: dict[str, object] = {}

    def fake_plain(args, project, profiles):
        profile = profiles / "profiles.yml"
        seen["dir"] = profiles
        seen["file_mode"] = stat.S_IMODE(profile.stat().st_mode)
        seen["dir_mode"] = stat.S_IMODE(profiles.stat().st_mode)
        seen["profile"] = yaml.safe_load(profile.read_text())
        seen["env_has_password"] = any("s3cret-value" in v for v in os.environ.values())
        seen["args"] = args
        return _result(("model", "stg_order_created", "success", None))

    monkeypatch.setattr(dbt_tasks, "_invoke_plain", fake_plain)
    summary = dbt_tasks.invoke_dbt(["build"], settings, _snowflake())
    assert summary.success
    assert seen["file_mode"] == 0o600 and seen["dir_mode"] == 0o700
    assert seen["profile"]["cardflow"]["outputs"]["snowflake"]["password"] == "s3cret-value"
    assert seen["env_has_password"] is False
    assert seen["args"][1:3] == ["--target", "snowflake"]
    assert seen["args"][3] == "--target-path" and seen["args"][4] == str(dbt_tasks.target_path(settings))
    # dbt's logs live under the data directory too, not in the checkout
    args = seen["args"]
    assert args[args.index("--log-path") + 1] == str(tmp_path.resolve() / "dbt" / "logs")
    assert not Path(seen["dir"]).exists()  # removed after the run
    assert not any("s3cret-value" in v for v in os.environ.values())


def test_profile_is_removed_when_dbt_raises(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path, dbt_node_tasks=False)
    seen: list[Path] = []

    def broken(args, project, profiles):
        seen.append(profiles)
        raise RuntimeError("profile invalid")

    monkeypatch.setattr(dbt_tasks, "_invoke_plain", broken)
    with pytest.raises(TransformError, match="profile invalid"):
        dbt_tasks.invoke_dbt(["build"], settings, DuckDBTarget(settings.duckdb_path))
    assert seen and not seen[0].exists()


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


def test_summary_separates_failures_from_warnings() -> None:
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
    assert [n.describe() for n in summary.failed] == [
        "test unique_fct_orders_order_id: fail (3 failing rows): msg",
        "model dim_card: error: msg",
    ]
    assert [n.name for n in summary.warnings] == ["non_negative_fct_orders_quantity"]
    assert summary.as_dict()["counts"] == {"success": 1, "fail": 1, "error": 1, "warn": 1}


def test_summary_lists_every_node_slowest_first_for_the_artifact() -> None:
    """The artifact's per-node table: every node of the build (not only the slowest), each with its
    status, time and failing rows, so a default run shows per node what a task per node would."""
    summary = dbt_tasks.DbtRunSummary(
        "build",
        False,
        [
            dbt_tasks.NodeOutcome("a", "model", "stg_order_created", "success", "", execution_time=0.5),
            dbt_tasks.NodeOutcome("b", "test", "unique_fct_orders_order_id", "fail", "", 3, execution_time=0.02),
            dbt_tasks.NodeOutcome("c", "test", "not_null_columns_dim_card", "pass", "", failures=0, execution_time=0.7),
        ],
    )
    rows = summary.as_dict()["nodes"]
    assert [(r["type"], r["name"], r["status"], r["seconds"], r["failures"]) for r in rows] == [
        ("test", "not_null_columns_dim_card", "pass", 0.7, 0),
        ("model", "stg_order_created", "success", 0.5, None),
        ("test", "unique_fct_orders_order_id", "fail", 0.02, 3),
    ]


def test_node_tasks_are_opt_in(tmp_path) -> None:
    """The per-node Prefect tasks cost more than the build they show: off unless asked for."""
    from tasks.dbt import dbt_invoker

    assert dbt_invoker(load_settings(data_dir=tmp_path)) is None


def test_dbt_payload_fields_mirror_the_event_contract() -> None:
    """dbt_project.yml vars.payload_fields decodes exactly the contract's fields, same kinds, and every
    decimal at the contract's one warehouse scale (compared exactly: ``decimal:18``, not ``decimal``);
    vars.decimal_scale (the Gold amounts) is that same scale."""
    project = yaml.safe_load((dbt_tasks.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    fields = project["vars"]["payload_fields"]
    assert fields == dbt_payload_fields()
    assert {t: {n: k.split(":")[0] for n, k in f.items()} for t, f in fields.items()} == PAYLOAD_FIELDS
    assert project["vars"]["decimal_scale"] == WAREHOUSE_DECIMAL_SCALE == max(DECIMAL_SCALES)


def test_node_tasks_setting_picks_prefect_dbts_runner(tmp_path) -> None:
    """CARDFLOW_DBT_NODE_TASKS on: the transform tasks run dbt through prefect-dbt (one task per node);
    off: the library's plain dbtRunner (no invoker passed)."""
    from tasks.dbt import dbt_invoker, prefect_dbt_invoker

    assert dbt_invoker(load_settings(data_dir=tmp_path, dbt_node_tasks=True)) is prefect_dbt_invoker
    assert dbt_invoker(load_settings(data_dir=tmp_path, dbt_node_tasks=False)) is None


def test_target_path_is_kept_per_set_of_project_variables(tmp_path) -> None:
    """Partial parsing needs the same variables as the saved manifest: one directory per set, under
    the data dir, stable between runs (the audit builds of each layer find their own)."""
    settings = load_settings(data_dir=tmp_path)
    audit = settings.model_copy(update={"snowflake_silver_schema": "SILVER_AUDIT"})
    assert dbt_tasks.target_path(settings) == dbt_tasks.target_path(load_settings(data_dir=tmp_path))
    assert dbt_tasks.target_path(settings) != dbt_tasks.target_path(audit)
    assert dbt_tasks.target_path(settings).is_relative_to(tmp_path.resolve() / "dbt" / "target")


def test_dbt_writes_an_info_log_and_no_json_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    monkeypatch.delenv("DBT_WRITE_JSON", raising=False)
    assert dbt_tasks._artifact_flags(["build"]) == ["--log-level-file", "info", "--no-write-json"]
    # a command that reads its JSON asks for it; a caller's own log level is kept
    assert dbt_tasks._artifact_flags(["source", "freshness", "--write-json"]) == ["--log-level-file", "info"]
    assert dbt_tasks._artifact_flags(["build", "--log-level-file", "debug"]) == ["--no-write-json"]
    # dbt's own variables are the operator's switch: dbt reads them when no flag overrides
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    monkeypatch.setenv("DBT_WRITE_JSON", "true")
    assert dbt_tasks._artifact_flags(["build"]) == []

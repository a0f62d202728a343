"""The backend chooser: one source for Bronze, the warehouse, the dbt profile and the GX datasource.

Blocks are saved on the session's Prefect test harness, as ``cardflow blocks`` would save them.
"""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
import yaml
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials

from cardflow.backends.chooser import clear_block_cache, resolve_backends
from cardflow.bronze.store import LocalBronzeStore, S3BronzeStore, S3Config
from cardflow.errors import ConfigurationError, ConflictingConfiguration, MissingConfiguration
from cardflow.quality.snowflake_engine import snowflake_datasource_args
from cardflow.settings import load_settings
from cardflow.transform.dbt import temporary_profile
from cardflow.warehouse.connection import DuckDBTarget
from cardflow.warehouse.duckdb import DuckDBLoader
from cardflow.warehouse.snowflake import SnowflakeLoader, SnowflakeParams


@pytest.fixture(autouse=True)
def _fresh_blocks():
    clear_block_cache()
    yield
    clear_block_cache()


def _save_snowflake_block(**credentials: object) -> str:
    name = f"snow-{uuid.uuid4().hex[:8]}"
    values = {"account": "blockacct", "user": "block_user", "password": "block-pass", "role": "LOADER"}
    values.update(credentials)
    creds = SnowflakeCredentials(**values)
    creds.save(f"{name}-credentials", overwrite=True, _sync=True)
    SnowflakeConnector(credentials=creds, database="BLOCK_DB", warehouse="BLOCK_WH", schema="RAW").save(
        name, overwrite=True, _sync=True
    )
    return name


def _save_s3_block(bucket: str = "block-bucket") -> str:
    name = f"bronze-{uuid.uuid4().hex[:8]}"
    creds = AwsCredentials(
        aws_access_key_id="AKIABLOCK",
        aws_secret_access_key="block-aws-secret",
        region_name="eu-west-1",
        aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9999"),
    )
    creds.save(f"{name}-credentials", overwrite=True, _sync=True)
    S3Bucket(bucket_name=bucket, credentials=creds).save(name, overwrite=True, _sync=True)
    return name


def test_nothing_configured_means_local_lake_and_duckdb(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    backends = resolve_backends(settings)
    assert backends.warehouse == "duckdb"
    assert backends.target == DuckDBTarget(settings.duckdb_path)
    assert backends.bronze == settings.lake_dir
    assert isinstance(backends.store(), LocalBronzeStore)
    assert backends.stage_url is None and backends.snowflake is None
    with backends.open_loader() as loader:
        assert isinstance(loader, DuckDBLoader)


def test_snowflake_from_env_with_optional_role(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        snowflake_account="acct",
        snowflake_user="me",
        snowflake_password="env-pass",
        s3_bucket="lake",
    )
    backends = resolve_backends(settings)
    assert backends.warehouse == "snowflake"  # SNOWFLAKE_ACCOUNT selects it
    params = backends.snowflake
    assert params is not None and params.source == "environment"
    assert (params.account, params.user, params.role) == ("acct", "me", None)
    # the original system's names by default
    assert (params.database, params.warehouse) == ("SPORTS_CARD_ANALYTICS", "ANALYTICS_WH")
    assert backends.stage_url == "s3://lake/bronze/"
    assert "role" not in params.connect_kwargs() and "role=" not in params.sqlalchemy_args("GOLD")["connection_string"]


def test_missing_snowflake_settings_are_named_together(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="snowflake", snowflake_account="acct")
    with pytest.raises(MissingConfiguration) as caught:
        resolve_backends(settings, needs={"bronze", "warehouse", "load"})
    assert caught.value.variables == [
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "S3_BUCKET (or CARDFLOW_S3_BUCKET_BLOCK, or SNOWFLAKE_STAGE_URL)",
    ]
    message = str(caught.value)
    assert "SNOWFLAKE_USER, SNOWFLAKE_PASSWORD" in message and "SNOWFLAKE_ROLE" not in message
    assert "CARDFLOW_SNOWFLAKE_BLOCK" in message  # the other way to configure it


def test_bronze_only_runs_do_not_need_the_warehouse(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="snowflake")
    backends = resolve_backends(settings, needs={"bronze"})
    assert backends.bronze == settings.lake_dir
    with pytest.raises(ConfigurationError, match="not resolved"):
        _ = backends.target


def test_named_snowflake_block_alone_selects_snowflake_for_every_consumer(tmp_path: Path) -> None:
    """A worker holding only CARDFLOW_SNOWFLAKE_BLOCK: Snowflake, with the block's parameters in the
    loader, the quality/report session target, the GX datasource and the dbt profile."""
    name = _save_snowflake_block(endpoint="http://localhost:8123")  # how `cardflow blocks` saves a stand-in
    settings = load_settings(
        data_dir=tmp_path, snowflake_connector_block=name, snowflake_stage_url_override="file:///tmp/stage/"
    )
    assert settings.warehouse == "snowflake"
    backends = resolve_backends(settings)
    params = backends.snowflake
    assert params == SnowflakeParams(
        account="blockacct",
        user="block_user",
        password=params.password,
        database="BLOCK_DB",
        warehouse="BLOCK_WH",
        role="LOADER",
        host="localhost",
        port=8123,
        protocol="http",
        source=f"block {name!r}",
    )
    assert params.password.get_secret_value() == "block-pass"
    assert "block-pass" not in repr(params) and "block-pass" not in repr(backends)
    # names every consumer reads from settings agree with the block
    assert (backends.settings.snowflake_database, backends.settings.snowflake_warehouse) == ("BLOCK_DB", "BLOCK_WH")
    with backends.open_loader() as loader:  # no connection is opened until a statement runs
        assert isinstance(loader, SnowflakeLoader) and loader.params is params
        assert loader.table == "BLOCK_DB.RAW.EVENTS"
    kwargs = params.connect_kwargs("cardflow-report")
    assert (kwargs["user"], kwargs["password"], kwargs["host"], kwargs["port"]) == (
        "block_user",
        "block-pass",
        "localhost",
        8123,
    )
    gx = snowflake_datasource_args(params, "GOLD_AUDIT")  # what the gate builds from its session's target
    assert gx["connection_string"].startswith("snowflake://block_user:block-pass@blockacct/BLOCK_DB/GOLD_AUDIT")
    assert gx["kwargs"]["connect_args"]["port"] == 8123
    with temporary_profile(backends.settings, backends.target) as directory:  # what invoke_dbt hands dbt
        profile_file = directory / "profiles.yml"
        assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
        output = yaml.safe_load(profile_file.read_text())["cardflow"]["outputs"]["snowflake"]
        assert {k: output[k] for k in ("account", "user", "password", "role", "database", "warehouse", "port")} == {
            "account": "blockacct",
            "user": "block_user",
            "password": "block-pass",
            "role": "LOADER",
            "database": "BLOCK_DB",
            "warehouse": "BLOCK_WH",
            "port": 8123,
        }
    assert not directory.exists()


def test_duckdb_next_to_a_snowflake_block_is_refused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, warehouse_choice="duckdb", snowflake_connector_block="prod")
    with pytest.raises(ConflictingConfiguration) as caught:
        resolve_backends(settings)
    assert caught.value.variables == ["CARDFLOW_WAREHOUSE", "CARDFLOW_SNOWFLAKE_BLOCK"]
    assert "'prod'" in str(caught.value)


def test_block_and_env_that_disagree_are_refused_and_agreeing_ones_pass(tmp_path: Path) -> None:
    name = _save_snowflake_block()
    disagree = load_settings(
        data_dir=tmp_path,
        snowflake_connector_block=name,
        snowflake_user="someone_else",
        snowflake_password="other-pass",
        snowflake_database="OTHER_DB",
    )
    with pytest.raises(ConflictingConfiguration) as caught:
        resolve_backends(disagree, needs={"warehouse"})
    assert caught.value.variables == [
        "CARDFLOW_SNOWFLAKE_BLOCK",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_DATABASE",
    ]
    assert "other-pass" not in str(caught.value) and "block-pass" not in str(caught.value)
    # the same values next to the block are fine (e.g. a .env copied from .env.example)
    agree = load_settings(
        data_dir=tmp_path, snowflake_connector_block=name, snowflake_user="block_user", snowflake_protocol="https"
    )
    assert resolve_backends(agree, needs={"warehouse"}).snowflake.user == "block_user"


def test_unknown_block_names_its_variable(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, snowflake_connector_block=f"absent-{uuid.uuid4().hex[:6]}")
    with pytest.raises(ConfigurationError) as caught:
        resolve_backends(settings, needs={"warehouse"})
    assert caught.value.variable == "CARDFLOW_SNOWFLAKE_BLOCK"
    assert "cardflow blocks" in str(caught.value)


def test_s3_block_gives_a_plain_s3_config_and_the_stage_url(tmp_path: Path) -> None:
    name = _save_s3_block("block-bucket")
    snow = _save_snowflake_block()
    settings = load_settings(data_dir=tmp_path, s3_bucket_block=name, snowflake_connector_block=snow)
    backends = resolve_backends(settings)
    config = backends.bronze
    assert isinstance(config, S3Config)
    assert (config.bucket, config.region, config.endpoint_url, config.access_key_id) == (
        "block-bucket",
        "eu-west-1",
        "http://127.0.0.1:9999",
        "AKIABLOCK",
    )
    assert config.secret_access_key.get_secret_value() == "block-aws-secret"
    assert "block-aws-secret" not in repr(config)
    assert isinstance(backends.store(), S3BronzeStore)
    assert backends.stage_url == "s3://block-bucket/bronze/"


def test_s3_block_and_a_different_bucket_variable_are_refused(tmp_path: Path) -> None:
    name = _save_s3_block("block-bucket")
    settings = load_settings(data_dir=tmp_path, s3_bucket_block=name, s3_bucket="env-bucket")
    with pytest.raises(ConflictingConfiguration, match="S3_BUCKET"):
        resolve_backends(settings, needs={"bronze"})

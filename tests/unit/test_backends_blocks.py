"""``cardflow blocks``: only configured blocks, saved idempotently, loadable, names printed, no secrets."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.blocks.notifications import SlackWebhook
from prefect_aws import S3Bucket
from prefect_snowflake import SnowflakeConnector

from cardflow.backends.blocks import planned_blocks, save_blocks
from cardflow.backends.chooser import clear_block_cache, resolve_backends
from cardflow.cli.commands import blocks as blocks_command
from cardflow.settings import load_settings


def test_nothing_planned_without_settings(tmp_path: Path) -> None:
    assert planned_blocks(load_settings(data_dir=tmp_path)) == []


def test_blocks_round_trip_and_overwrite(tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = load_settings(
        data_dir=tmp_path,
        s3_bucket="cardflow-bronze-test",
        s3_endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="AKIATEST",
        aws_secret_access_key="aws-secret-value",
        snowflake_account="acme-xy123",
        snowflake_user="loader",
        snowflake_password="snow-secret-value",
        snowflake_role="CARDFLOW_PIPELINE",
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/secretpart",
        s3_bucket_block=f"bronze-{suffix}",
        snowflake_connector_block=f"snow-{suffix}",
        slack_webhook_block=f"slack-{suffix}",
    )
    saved = save_blocks(settings)
    assert [(b.block_type, b.name) for b in saved] == [
        ("aws-credentials", f"bronze-{suffix}-credentials"),
        ("s3-bucket", f"bronze-{suffix}"),
        ("snowflake-credentials", f"snow-{suffix}-credentials"),
        ("snowflake-connector", f"snow-{suffix}"),
        ("slack-webhook", f"slack-{suffix}"),
    ]
    bucket = S3Bucket.load(f"bronze-{suffix}")
    assert bucket.bucket_name == "cardflow-bronze-test"
    assert bucket.credentials.aws_secret_access_key.get_secret_value() == "aws-secret-value"
    assert bucket.credentials.aws_client_parameters.endpoint_url == "http://127.0.0.1:9000"
    connector = SnowflakeConnector.load(f"snow-{suffix}")
    assert connector.credentials.password.get_secret_value() == "snow-secret-value"
    assert (connector.database, connector.warehouse, connector.schema_) == (
        "SPORTS_CARD_ANALYTICS",
        "ANALYTICS_WH",
        "RAW",
    )
    assert SlackWebhook.load(f"slack-{suffix}").url.get_secret_value().endswith("/secretpart")

    # saving again (e.g. after a rotation) updates the same documents
    rotated = settings.model_copy(update={"s3_bucket": "cardflow-bronze-rotated"})
    save_blocks(rotated)
    assert S3Bucket.load(f"bronze-{suffix}").bucket_name == "cardflow-bronze-rotated"


def test_saved_stand_in_block_is_read_back_by_the_chooser(tmp_path: Path) -> None:
    """A block saved from SNOWFLAKE_* with a stand-in host gives a worker that holds only its name
    the same parameters (the endpoint survives in the block; extra fields would not)."""
    name = f"snow-{uuid.uuid4().hex[:8]}"
    save_blocks(
        load_settings(
            data_dir=tmp_path,
            snowflake_account="fakesnow",
            snowflake_user="cardflow",
            snowflake_password="pw",
            snowflake_host="localhost",
            snowflake_port=4242,
            snowflake_protocol="http",
            snowflake_connector_block=name,
        )
    )
    clear_block_cache()
    params = resolve_backends(
        load_settings(data_dir=tmp_path, snowflake_connector_block=name), needs={"warehouse"}
    ).snowflake
    assert params is not None
    assert (params.account, params.user, params.host, params.port, params.protocol) == (
        "fakesnow",
        "cardflow",
        "localhost",
        4242,
        "http",
    )
    assert params.password.get_secret_value() == "pw" and params.role is None


def test_command_prints_names_never_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/topsecret")
    monkeypatch.setenv("CARDFLOW_SLACK_BLOCK", f"slack-{uuid.uuid4().hex[:8]}")
    assert blocks_command.run(type("Args", (), {"dry_run": False})()) == 0
    out = capsys.readouterr().out
    assert "saved slack-webhook/slack-" in out and "CARDFLOW_SLACK_BLOCK=" in out
    assert "topsecret" not in out

"""Prefect blocks built from settings: what ``cardflow blocks`` saves to the Prefect API.

In production the credentials live in blocks (encrypted at rest by the Prefect server/Cloud) and
workers need only block names: ``CARDFLOW_S3_BUCKET_BLOCK``, ``CARDFLOW_SNOWFLAKE_BLOCK`` and
``CARDFLOW_SLACK_BLOCK``. Environment variables alone keep working: a block is only consulted when
its name is set.

Only the blocks whose settings are present are built (S3 when S3_BUCKET is set, Snowflake when
SNOWFLAKE_ACCOUNT is set, Slack when SLACK_WEBHOOK_URL is set). Saving overwrites, so running the
command again after changing a variable updates the block in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cardflow.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_S3_BUCKET_BLOCK = "cardflow-bronze"
DEFAULT_SNOWFLAKE_BLOCK = "cardflow-snowflake"
DEFAULT_SLACK_BLOCK = "cardflow-slack"


@dataclass(frozen=True)
class PlannedBlock:
    """One block to save: its Prefect block type slug, document name, and the block object."""

    block_type: str
    name: str
    block: Any
    setting: str
    """The variable that names it for workers (``CARDFLOW_*_BLOCK``), or '' for nested credentials."""


def s3_blocks(settings: Settings) -> list[PlannedBlock]:
    """AwsCredentials + S3Bucket from S3_BUCKET/AWS_* (empty if S3_BUCKET is unset)."""
    if not settings.s3_bucket:
        return []
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    credentials = AwsCredentials(
        aws_access_key_id=settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=settings.s3_endpoint_url),
    )
    bucket = S3Bucket(bucket_name=settings.s3_bucket, credentials=credentials)
    name = settings.s3_bucket_block or DEFAULT_S3_BUCKET_BLOCK
    return [
        PlannedBlock("aws-credentials", f"{name}-credentials", bucket.credentials, ""),
        PlannedBlock("s3-bucket", name, bucket, "CARDFLOW_S3_BUCKET_BLOCK"),
    ]


def snowflake_blocks(settings: Settings) -> list[PlannedBlock]:
    """SnowflakeCredentials + SnowflakeConnector from SNOWFLAKE_* (empty if SNOWFLAKE_ACCOUNT is unset)."""
    if not settings.snowflake_account:
        return []
    settings.require("snowflake_user", "snowflake_password")
    from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials

    extra: dict[str, Any] = {}
    if settings.snowflake_host:
        # Snowflake stand-ins only (production leaves SNOWFLAKE_HOST unset). The block keeps only its
        # declared fields, so the server goes in `endpoint`, which the backend chooser reads back.
        port = f":{settings.snowflake_port}" if settings.snowflake_port else ""
        extra = {"endpoint": f"{settings.snowflake_protocol}://{settings.snowflake_host}{port}"}
    credentials = SnowflakeCredentials(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        password=settings.snowflake_password,
        role=settings.snowflake_role,
        **extra,
    )
    connector = SnowflakeConnector(
        credentials=credentials,
        database=settings.snowflake_database,
        warehouse=settings.snowflake_warehouse,
        schema=settings.snowflake_raw_schema,
    )
    name = settings.snowflake_connector_block or DEFAULT_SNOWFLAKE_BLOCK
    return [
        PlannedBlock("snowflake-credentials", f"{name}-credentials", credentials, ""),
        PlannedBlock("snowflake-connector", name, connector, "CARDFLOW_SNOWFLAKE_BLOCK"),
    ]


def slack_blocks(settings: Settings) -> list[PlannedBlock]:
    """A SlackWebhook from SLACK_WEBHOOK_URL (empty if unset)."""
    if settings.slack_webhook_url is None:
        return []
    from prefect.blocks.notifications import SlackWebhook

    block = SlackWebhook(url=settings.slack_webhook_url)
    name = settings.slack_webhook_block or DEFAULT_SLACK_BLOCK
    return [PlannedBlock("slack-webhook", name, block, "CARDFLOW_SLACK_BLOCK")]


def planned_blocks(settings: Settings) -> list[PlannedBlock]:
    """Every block the settings allow, nested credentials before the blocks that hold them."""
    return s3_blocks(settings) + snowflake_blocks(settings) + slack_blocks(settings)


def save_blocks(settings: Settings) -> list[PlannedBlock]:
    """Save (create or overwrite) every planned block on the Prefect API in use.

    Idempotent: saving again updates the same documents. Credentials are saved first under their
    own names, so the bucket/connector documents reference them instead of embedding a copy.

    Returns:
        The blocks saved, in order (empty when no settings are present).
    """
    saved: list[PlannedBlock] = []
    for planned in planned_blocks(settings):
        planned.block.save(planned.name, overwrite=True, _sync=True)
        logger.info("saved %s block %r", planned.block_type, planned.name)
        saved.append(planned)
    return saved

"""The one settings object of cardflow.

Read from the environment and from ``.env``, using the seed system's variable names where they exist
(POSTGRES_HOST, S3_BUCKET, SNOWFLAKE_ACCOUNT, ...) and ``CARDFLOW_*`` names for what the design adds.
Everything has an embedded default, so with no variables at all cardflow runs on a laptop: an
embedded PostgreSQL, a local Bronze directory and a DuckDB file under ``CARDFLOW_DATA_DIR``.

Nothing else in cardflow reads ``os.environ``: flows and tasks take ``settings=None`` and fall back
to :func:`get_settings`.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cardflow.errors import ConfigurationError

Warehouse = Literal["duckdb", "snowflake"]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
STAGE_URL = re.compile(r"^(s3|file)://[A-Za-z0-9._~/=+-]+$")
"""What a stage URL may hold: it is written into the stage DDL (set or derived from the bucket)."""
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")


def _env(name: str) -> AliasChoices:
    """Bind a field to exactly one environment variable (and let code pass it by field name)."""
    return AliasChoices(name)


class Settings(BaseSettings):
    """Typed configuration; field docs are the reference for ``.env.example``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    # --- local embedded defaults -------------------------------------------------------------
    data_dir: Path = Field(Path(".cardflow"), validation_alias=_env("CARDFLOW_DATA_DIR"))
    """Where embedded Postgres, the local Bronze lake, the DuckDB file and reports live."""
    warehouse_choice: Warehouse | None = Field(None, validation_alias=_env("CARDFLOW_WAREHOUSE"))
    """duckdb or snowflake; unset means snowflake when CARDFLOW_SNOWFLAKE_BLOCK or SNOWFLAKE_ACCOUNT is
    set, else duckdb. An explicit duckdb next to a Snowflake block or account is refused as ambiguous
    (:mod:`cardflow.backends.chooser`)."""
    duckdb_path_override: Path | None = Field(None, validation_alias=_env("CARDFLOW_DUCKDB_PATH"))

    # --- event store (Postgres) ----------------------------------------------------------------
    postgres_host: str | None = Field(None, validation_alias=_env("POSTGRES_HOST"))
    postgres_port: int = Field(5432, validation_alias=_env("POSTGRES_PORT"), ge=1, le=65535)
    postgres_db: str = Field("cardflow", validation_alias=_env("POSTGRES_DB"))
    postgres_user: str = Field("postgres", validation_alias=_env("POSTGRES_USER"))
    postgres_password: SecretStr | None = Field(None, validation_alias=_env("POSTGRES_PASSWORD"))
    events_table: str = Field("events", validation_alias=_env("CARDFLOW_EVENTS_TABLE"))

    # --- Bronze (S3 or local directory) --------------------------------------------------------
    aws_region: str = Field("us-east-1", validation_alias=_env("AWS_REGION"))
    s3_bucket: str | None = Field(None, validation_alias=_env("S3_BUCKET"))
    s3_prefix: str = Field("bronze", validation_alias=_env("S3_PREFIX"))
    s3_endpoint_url: str | None = Field(None, validation_alias=_env("S3_ENDPOINT_URL"))
    aws_access_key_id: SecretStr | None = Field(None, validation_alias=_env("AWS_ACCESS_KEY_ID"))
    aws_secret_access_key: SecretStr | None = Field(None, validation_alias=_env("AWS_SECRET_ACCESS_KEY"))
    s3_bucket_block: str | None = Field(None, validation_alias=_env("CARDFLOW_S3_BUCKET_BLOCK"))
    """Name of a prefect-aws S3Bucket block to use instead of the variables above."""

    # --- backfill (event store -> Bronze) -------------------------------------------------------
    backfill_chunk_size: int = Field(100_000, validation_alias=_env("CARDFLOW_BACKFILL_CHUNK_SIZE"), ge=1)
    """Rows per backfill chunk; the watermark is committed after each chunk's objects are written."""
    backfill_lookback_minutes: float = Field(
        60, validation_alias=_env("CARDFLOW_BACKFILL_LOOKBACK_MINUTES"), ge=0
    )
    """Each incremental run re-scans this far behind the watermark to pick up late-committed rows."""
    backfill_upload_concurrency: int = Field(
        8, validation_alias=_env("CARDFLOW_BACKFILL_UPLOAD_CONCURRENCY"), ge=1, le=64
    )
    """Compress-and-upload threads (bounded; uploads beyond twice this number wait)."""
    backfill_gzip_level: int = Field(1, validation_alias=_env("CARDFLOW_BACKFILL_GZIP_LEVEL"), ge=1, le=9)
    """Gzip level of backfilled parts: 1-3 ISA-L (fast), 4-9 zlib (part keys do not depend on it;
    bytes do: keep it fixed)."""
    backfill_chunk_pause_seconds: float = Field(
        0, validation_alias=_env("CARDFLOW_BACKFILL_CHUNK_PAUSE_SECONDS"), ge=0
    )
    """Pause after each committed chunk, to throttle load on a busy event store (0 = none)."""

    # --- Snowflake -----------------------------------------------------------------------------
    snowflake_account: str | None = Field(None, validation_alias=_env("SNOWFLAKE_ACCOUNT"))
    snowflake_user: str | None = Field(None, validation_alias=_env("SNOWFLAKE_USER"))
    snowflake_password: SecretStr | None = Field(None, validation_alias=_env("SNOWFLAKE_PASSWORD"))
    snowflake_role: str | None = Field(None, validation_alias=_env("SNOWFLAKE_ROLE"))
    """Optional everywhere: unset means the user's default role in Snowflake."""
    snowflake_warehouse: str = Field("ANALYTICS_WH", validation_alias=_env("SNOWFLAKE_WAREHOUSE"))
    snowflake_database: str = Field("SPORTS_CARD_ANALYTICS", validation_alias=_env("SNOWFLAKE_DATABASE"))
    """The original system's names by default (its DDL, example queries and checks use them)."""
    snowflake_raw_schema: str = Field("RAW", validation_alias=_env("SNOWFLAKE_RAW_SCHEMA"))
    snowflake_silver_schema: str = Field("SILVER", validation_alias=_env("SNOWFLAKE_SILVER_SCHEMA"))
    snowflake_gold_schema: str = Field("GOLD", validation_alias=_env("SNOWFLAKE_GOLD_SCHEMA"))
    snowflake_host: str | None = Field(None, validation_alias=_env("SNOWFLAKE_HOST"))
    """Only for Snowflake stand-ins (fakesnow server); production leaves it unset."""
    snowflake_port: int | None = Field(None, validation_alias=_env("SNOWFLAKE_PORT"), ge=1, le=65535)
    snowflake_protocol: Literal["https", "http"] = Field("https", validation_alias=_env("SNOWFLAKE_PROTOCOL"))
    snowflake_stage: str = Field("BRONZE_STAGE", validation_alias=_env("SNOWFLAKE_STAGE"))
    snowflake_storage_integration: str = Field(
        "CARDFLOW_S3_INTEGRATION", validation_alias=_env("SNOWFLAKE_STORAGE_INTEGRATION")
    )
    snowflake_connector_block: str | None = Field(None, validation_alias=_env("CARDFLOW_SNOWFLAKE_BLOCK"))
    """Name of a prefect-snowflake SnowflakeConnector block; setting it selects Snowflake."""
    snowflake_file_format: str = Field("BRONZE_JSON", validation_alias=_env("SNOWFLAKE_FILE_FORMAT"))
    """Named JSON file format the stage and COPY INTO use (created by ``cardflow bootstrap``)."""
    snowflake_stage_url_override: str | None = Field(None, validation_alias=_env("SNOWFLAKE_STAGE_URL"))
    """URL of the external stage; unset means ``s3://S3_BUCKET/S3_PREFIX/``. ``file://`` for fakesnow."""
    snowflake_storage_aws_role_arn: str | None = Field(
        None, validation_alias=_env("SNOWFLAKE_STORAGE_AWS_ROLE_ARN")
    )
    """IAM role the storage integration assumes; unset means an admin created the integration."""

    # --- load ------------------------------------------------------------------------------------
    load_batch_files: int = Field(1000, validation_alias=_env("CARDFLOW_LOAD_BATCH_FILES"), ge=1, le=1000)
    """Bronze files per load transaction (DuckDB) or per COPY INTO statement (Snowflake, max 1000).
    DuckDB writes a batch of over one row group (122,880 rows) straight to its file; smaller ones
    go through the WAL and a checkpoint: 8 commits of 200 files cost 2.5 s of a 6 s load, 2 of
    1,000 files 0.2 s (300k events)."""
    load_manifest_grace_minutes: int = Field(
        60, validation_alias=_env("CARDFLOW_LOAD_MANIFEST_GRACE_MINUTES"), ge=0
    )
    """The load lists manifests named from this many minutes before its cursor (the last manifest it
    loaded), so a landing that finished after a load but is named before it is still picked up."""

    # --- dbt -----------------------------------------------------------------------------------
    dbt_target: str | None = Field(None, validation_alias=_env("DBT_TARGET"))
    """dbt target; unset means the target named after the warehouse (duckdb or snowflake)."""
    dbt_project_dir: Path | None = Field(None, validation_alias=_env("DBT_PROJECT_DIR"))
    dbt_threads: int = Field(4, validation_alias=_env("CARDFLOW_DBT_THREADS"), ge=1, le=64)
    dbt_lookback_minutes: int = Field(60, validation_alias=_env("CARDFLOW_DBT_LOOKBACK_MINUTES"), ge=0)
    """Incremental Silver re-reads RAW rows loaded this many minutes below its watermark (late commits)."""
    dbt_node_tasks: bool = Field(False, validation_alias=_env("CARDFLOW_DBT_NODE_TASKS"))
    """Run dbt through prefect-dbt's PrefectDbtRunner (one Prefect task per dbt node). Off by default:
    those tasks cost more than the build they show (docs/monitoring.md, "dbt nodes"); the flow's
    artifact lists every node of each layer build with its status and time instead."""

    # --- data quality --------------------------------------------------------------------------
    raw_events_freshness_warn_hours: float = Field(6, validation_alias=_env("RAW_EVENTS_FRESHNESS_WARN_HOURS"), gt=0)
    raw_events_freshness_error_hours: float = Field(24, validation_alias=_env("RAW_EVENTS_FRESHNESS_ERROR_HOURS"), gt=0)
    volume_anomaly_pct: float = Field(50, validation_alias=_env("VOLUME_ANOMALY_PCT"), gt=0, le=100)
    volume_anomaly_lookback_days: int = Field(7, validation_alias=_env("VOLUME_ANOMALY_LOOKBACK_DAYS"), ge=1)
    audit_schema_suffix: str = Field("_AUDIT", validation_alias=_env("CARDFLOW_AUDIT_SCHEMA_SUFFIX"))
    """Write-audit-publish: Silver/Gold are built into <schema><suffix> and published after the gate."""
    snowflake_publish_mode: Literal["swap", "clone"] = Field(
        "swap", validation_alias=_env("CARDFLOW_SNOWFLAKE_PUBLISH_MODE")
    )
    """swap: ALTER TABLE audit SWAP WITH published (production); clone: CREATE OR REPLACE TABLE published
    CLONE audit (for stand-ins such as fakesnow that have no SWAP)."""
    dbt_skip_unit_tests: bool = Field(True, validation_alias=_env("CARDFLOW_DBT_SKIP_UNIT_TESTS"))
    """Leave dbt unit tests out of the flow's layer builds. They check model logic on fixed inputs,
    so every run gives the same answer: they belong to CI (``make test`` runs them in a plain
    ``dbt build``), not to each hourly build, where each sat before its model on the critical
    path. false: run them in every layer build (not on fakesnow, which lacks their TEMPORARY tables)."""
    data_docs_index_limit: int = Field(100, validation_alias=_env("CARDFLOW_DATA_DOCS_INDEX_LIMIT"), ge=1)
    """How many of the newest validation results the Data Docs index lists. GX reads every listed
    result to draw the index, so an unbounded index costs more with every gated run."""
    quality_chunk_rows: int = Field(500_000, validation_alias=_env("CARDFLOW_QUALITY_CHUNK_ROWS"), ge=1_000)
    """DuckDB gates validate tables in pieces of this many rows (bounds memory)."""

    # --- real-time ingestion -------------------------------------------------------------------
    rabbitmq_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@127.0.0.1:5672/%2F"), validation_alias=_env("RABBITMQ_URL")
    )
    """amqp[s]://user:password@host:port/vhost; a secret (it holds the password): unwrap it only where
    pika connects (cardflow.sources.mq.connection)."""
    rabbitmq_queue: str = Field("cardflow.events", validation_alias=_env("RABBITMQ_QUEUE"))
    rabbitmq_prefetch: int = Field(3000, validation_alias=_env("RABBITMQ_PREFETCH"), ge=1, le=65535)
    """Unacked messages the broker may push to `cardflow consume` (must be >= RABBITMQ_BATCH_SIZE)."""
    rabbitmq_batch_size: int = Field(1000, validation_alias=_env("RABBITMQ_BATCH_SIZE"), ge=1)
    """A micro-batch lands when it holds this many messages..."""
    rabbitmq_batch_seconds: float = Field(0.5, validation_alias=_env("RABBITMQ_BATCH_SECONDS"), gt=0, le=300)
    """...or when its first message has waited this long."""
    rabbitmq_delivery_limit: int = Field(5, validation_alias=_env("RABBITMQ_DELIVERY_LIMIT"), ge=1)
    """Deliveries before the broker dead-letters a message (quorum queue x-delivery-limit)."""
    rabbitmq_landing_workers: int = Field(1, validation_alias=_env("RABBITMQ_LANDING_WORKERS"), ge=0, le=32)
    """N: land in N worker processes; 0: in two threads of the consumer's own process. Landing
    (decode, validate, encode) is CPU work: in threads it shares one GIL with pika's I/O loop. On
    the 2-core bench box, 200k messages: threads 40% of a drain-only consumer, 1 process 57%,
    2 processes 64%."""
    webhook_secret: SecretStr | None = Field(None, validation_alias=_env("CARDFLOW_WEBHOOK_SECRET"))
    """Shared secret of the webhook receiver: bearer token, or key of the HMAC-SHA256 body signature."""
    webhook_max_body_bytes: int = Field(
        10 * 1024 * 1024, validation_alias=_env("CARDFLOW_WEBHOOK_MAX_BYTES"), ge=1024
    )

    # --- alerts --------------------------------------------------------------------------------
    slack_webhook_url: SecretStr | None = Field(None, validation_alias=_env("SLACK_WEBHOOK_URL"))
    slack_webhook_block: str | None = Field(None, validation_alias=_env("CARDFLOW_SLACK_BLOCK"))

    @field_validator("s3_endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:9000, got {value!r}")
        return value

    @field_validator("rabbitmq_url")
    @classmethod
    def _amqp_url(cls, value: SecretStr) -> SecretStr:
        parsed = urlparse(value.get_secret_value())
        if parsed.scheme not in ("amqp", "amqps") or not parsed.hostname:
            raise ValueError(
                f"expected amqp[s]://user:password@host:port/vhost, got a {parsed.scheme!r} URL "
                "(value not shown: it is a secret)"
            )
        return value

    @model_validator(mode="after")
    def _batch_fits_prefetch(self) -> Settings:
        # the broker stops delivering at `prefetch` unacked messages: a bigger batch never fills
        if self.rabbitmq_batch_size > self.rabbitmq_prefetch:
            raise ValueError(
                f"RABBITMQ_BATCH_SIZE ({self.rabbitmq_batch_size}) must not exceed RABBITMQ_PREFETCH "
                f"({self.rabbitmq_prefetch}): the broker stops delivering at prefetch unacked messages"
            )
        return self

    @field_validator("slack_webhook_url")
    @classmethod
    def _slack_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        parsed = urlparse(value.get_secret_value())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("expected an http(s) URL (value not shown: it is a secret)")
        return value

    @field_validator(
        "snowflake_warehouse",
        "snowflake_database",
        "snowflake_raw_schema",
        "snowflake_silver_schema",
        "snowflake_gold_schema",
        "snowflake_stage",
        "snowflake_storage_integration",
        "snowflake_file_format",
        "events_table",
    )
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, _ and $)")
        return value

    @field_validator("snowflake_stage_url_override")
    @classmethod
    def _stage_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not STAGE_URL.match(value):
            raise ValueError(f"expected s3://bucket/prefix/ (or file:///path/ for fakesnow), got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("snowflake_storage_aws_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError(
                f"expected an IAM role ARN such as arn:aws:iam::123456789012:role/name, got {value!r}"
            )
        return value

    @field_validator("audit_schema_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_$]{1,40}", value):
            raise ValueError(f"{value!r} must be a non-empty identifier suffix (letters, digits, _ and $)")
        return value

    @field_validator("s3_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return value.strip("/")

    # --- derived -------------------------------------------------------------------------------
    @property
    def warehouse(self) -> Warehouse:
        """The warehouse in use: explicit choice, else Snowflake when a Snowflake block or account is
        configured, else DuckDB. (Contradictions are refused by the backend chooser.)"""
        if self.warehouse_choice:
            return self.warehouse_choice
        return "snowflake" if (self.snowflake_connector_block or self.snowflake_account) else "duckdb"

    @property
    def uses_embedded_postgres(self) -> bool:
        return not self.postgres_host

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_bucket or self.s3_bucket_block)

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def lake_dir(self) -> Path:
        """Root of the local Bronze store (keys start with S3_PREFIX below it)."""
        return self.resolved_data_dir / "lake"

    @property
    def duckdb_path(self) -> Path:
        return (self.duckdb_path_override or self.resolved_data_dir / "warehouse.duckdb").expanduser().resolve()

    @property
    def pgdata_dir(self) -> Path:
        return self.resolved_data_dir / "pgdata"

    @property
    def resolved_dbt_target(self) -> str:
        return self.dbt_target or self.warehouse

    def missing(self, *fields: str) -> list[str]:
        """The environment variables of ``fields`` that are unset, in the order given."""
        return [variable_name(name) for name in fields if getattr(self, name) in (None, "")]

    def is_set(self, field_name: str) -> bool:
        """True when ``field_name`` was given explicitly (environment, .env or an override)."""
        return field_name in self.model_fields_set

    def require(self, *fields: str) -> None:
        """Raise :class:`ConfigurationError` naming the first unset field's variable."""
        absent = self.missing(*fields)
        if absent:
            raise ConfigurationError(absent[0], "is required for this operation but is not set")


def variable_name(field_name: str) -> str:
    """The environment variable of a settings field (``snowflake_user`` -> ``SNOWFLAKE_USER``)."""
    alias = Settings.model_fields[field_name].validation_alias
    return str(alias.choices[0]) if isinstance(alias, AliasChoices) else field_name.upper()


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env plus ``overrides`` (field names); bad values name the variable.

    Raises:
        ConfigurationError: the first invalid variable, with what was expected.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"][0] if first["loc"] else "?"
        variable = variable_name(str(loc)) if str(loc) in Settings.model_fields else str(loc)
        raise ConfigurationError(variable, first["msg"]) from exc


_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    global _cached
    if _cached is None:
        _cached = load_settings()
    return _cached


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    global _cached
    _cached = None

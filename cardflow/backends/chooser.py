"""The backend chooser: every backend of a run, resolved once, from one source.

:func:`resolve_backends` reads the settings (and, when their names are set, the Prefect blocks) and
returns :class:`Backends`:

* the **Bronze store**: a prefect-aws ``S3Bucket`` block (``CARDFLOW_S3_BUCKET_BLOCK``), else the
  ``S3_*``/``AWS_*`` variables, else the local lake under ``CARDFLOW_DATA_DIR``;
* the **warehouse**: the DuckDB file, or Snowflake with ONE :class:`SnowflakeParams` taken from a
  prefect-snowflake ``SnowflakeConnector`` block (``CARDFLOW_SNOWFLAKE_BLOCK``) or from the
  ``SNOWFLAKE_*`` variables. A named Snowflake block selects Snowflake by itself;
* from those: the RAW loader (:meth:`Backends.open_loader`), the query session of the gates,
  write-audit-publish, RAW checks and report (:meth:`Backends.open_session`), the Great
  Expectations datasource (on Snowflake the gate builds GX's SQL datasource from the session's
  ``target``, i.e. these same :class:`SnowflakeParams`; on DuckDB it validates DataFrames read
  through the session, as GX has no DuckDB dialect), and the dbt profile (``invoke_dbt(args,
  settings, backends.target)`` renders ``target`` into a temporary 0600 ``profiles.yml`` that is
  deleted after the run: :func:`cardflow.transform.dbt.temporary_profile`).

Configuration is checked here, before any data moves: every missing variable is named in one
:class:`~cardflow.errors.MissingConfiguration`, and two sources that disagree (a block and
variables, or ``CARDFLOW_WAREHOUSE=duckdb`` next to a Snowflake block) raise
:class:`~cardflow.errors.ConflictingConfiguration`. Flows call :func:`resolve_backends` first thing.

Blocks are read from the Prefect API in use; a loaded block is reused for a minute, so the tasks of
one run (each resolves again from its settings) do not each fetch it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import SecretStr

from cardflow.bronze.store import BronzeLocation, BronzeStore, S3Config, open_store
from cardflow.errors import ConfigurationError, ConflictingConfiguration, MissingConfiguration
from cardflow.settings import STAGE_URL, Settings, get_settings, variable_name
from cardflow.warehouse.base import RawLoader
from cardflow.warehouse.connection import DuckDBTarget, WarehouseSession, WarehouseTarget, open_session
from cardflow.warehouse.snowflake import SnowflakeParams

logger = logging.getLogger(__name__)

Need = Literal["bronze", "warehouse", "load"]
"""What a flow is about to use: Bronze, the warehouse, or both plus a Snowflake stage (the load)."""
ALL_NEEDS: frozenset[Need] = frozenset({"bronze", "warehouse", "load"})

BLOCK_CACHE_SECONDS = 60.0
"""How long a loaded block is reused within one process."""

_REQUIRED_SNOWFLAKE_ENV = ("snowflake_account", "snowflake_user", "snowflake_password")


@dataclass(frozen=True)
class Backends:
    """Every backend of a run, resolved from one configuration.

    Attributes:
        settings: the settings with what the blocks contributed folded in (Snowflake database and
            warehouse, stage URL), so every consumer reading names from settings agrees.
        bronze: where Bronze lives (the local lake directory or an :class:`S3Config`).
        target: the warehouse (:class:`DuckDBTarget` or :class:`SnowflakeParams`).
        stage_url: the Snowflake stage URL (Snowflake only; None on DuckDB).
        sources: where each backend came from, for logs and messages (never secrets).
    """

    settings: Settings
    bronze: BronzeLocation
    target_or_none: WarehouseTarget | None
    stage_url: str | None
    sources: dict[str, str]

    @property
    def target(self) -> WarehouseTarget:
        """The warehouse.

        Raises:
            ConfigurationError: resolved without ``warehouse`` in ``needs`` (a programming error).
        """
        if self.target_or_none is None:
            raise ConfigurationError(
                "CARDFLOW_WAREHOUSE", "the warehouse was not resolved for this run (needs= lacked 'warehouse')"
            )
        return self.target_or_none

    @property
    def warehouse(self) -> Literal["duckdb", "snowflake"]:
        return self.settings.warehouse

    @property
    def snowflake(self) -> SnowflakeParams | None:
        """The one set of Snowflake connection parameters (None on DuckDB)."""
        return self.target_or_none if isinstance(self.target_or_none, SnowflakeParams) else None

    def store(self) -> BronzeStore:
        """The Bronze store (a new client per call: clients are not shared between processes)."""
        return open_store(self.bronze)

    @contextmanager
    def open_loader(self) -> Iterator[RawLoader]:
        """The RAW loader of the warehouse; its connection is closed on exit.

        Raises:
            MissingConfiguration: Snowflake without a stage URL (resolve with ``needs`` holding
                ``load`` to get this at flow start instead).
        """
        loader: RawLoader
        target = self.target
        if isinstance(target, SnowflakeParams):
            from cardflow.warehouse.snowflake import SnowflakeLoader

            if self.stage_url is None:
                raise MissingConfiguration(list(_STAGE_VARIABLES), "loading RAW on Snowflake (the Bronze stage URL)")
            loader = SnowflakeLoader(self.settings, target, self.stage_url)
        else:
            from cardflow.warehouse.duckdb import DuckDBLoader

            loader = DuckDBLoader(self.settings)
        try:
            yield loader
        finally:
            loader.close()

    @contextmanager
    def open_session(
        self, *, read_only: bool = False, query_tag: str = "cardflow-quality"
    ) -> Iterator[WarehouseSession]:
        """A query session on the warehouse (gates, write-audit-publish, RAW checks, report)."""
        with open_session(self.target, read_only=read_only, query_tag=query_tag) as session:
            yield session


_STAGE_VARIABLES = ("S3_BUCKET (or CARDFLOW_S3_BUCKET_BLOCK, or SNOWFLAKE_STAGE_URL)",)


def resolve_backends(settings: Settings | None = None, *, needs: Collection[Need] = ALL_NEEDS) -> Backends:
    """Resolve every backend from ``settings`` (and the blocks they name), checking what ``needs`` uses.

    Args:
        settings: the run's settings; default: the environment.
        needs: what the caller is about to use; only that is validated. ``load`` also requires
            the Snowflake stage URL. Snowflake (and its block) is resolved only when ``warehouse``
            or ``load`` is needed; a DuckDB target is always set (it costs nothing).

    Returns:
        The backends; raises before returning anything partial.

    Raises:
        MissingConfiguration: every missing variable, in one message.
        ConflictingConfiguration: two sources disagree.
        ConfigurationError: a named block does not exist on the Prefect API.
    """
    settings = settings or get_settings()
    needs = frozenset(needs)
    missing: list[str] = []
    sources: dict[str, str] = {}

    bronze = _resolve_bronze(settings, sources)
    warehouse = _choose_warehouse(settings)
    target: WarehouseTarget | None = None
    stage_url: str | None = None
    effective = settings
    if warehouse == "duckdb":
        target = DuckDBTarget(settings.duckdb_path)
        sources["warehouse"] = f"duckdb ({settings.duckdb_path})"
    elif needs & {"warehouse", "load"}:
        params = _resolve_snowflake(settings, missing)
        stage_url = _stage_url(settings, bronze)
        if stage_url is None and "load" in needs:
            missing.extend(_STAGE_VARIABLES)
        if params is not None:
            sources["warehouse"] = f"snowflake ({params.source})"
            update: dict[str, Any] = {
                "warehouse_choice": "snowflake",
                "snowflake_database": params.database,
                "snowflake_warehouse": params.warehouse,
            }
            if stage_url is not None:
                update["snowflake_stage_url_override"] = stage_url
            effective = settings.model_copy(update=update)
            target = params
    else:
        sources["warehouse"] = "snowflake (not resolved: this run does not use the warehouse)"
    if missing:
        what = ", ".join(sorted(needs))
        raise MissingConfiguration(
            missing,
            f"this run ({what} on {warehouse})",
            "(or name a prefect-snowflake SnowflakeConnector block in CARDFLOW_SNOWFLAKE_BLOCK instead)"
            if warehouse == "snowflake" and not settings.snowflake_connector_block
            else "",
        )
    logger.debug("backends: bronze=%s, warehouse=%s", sources["bronze"], sources["warehouse"])
    return Backends(effective, bronze, target, stage_url, sources)


# --- warehouse choice ---------------------------------------------------------------------------
def _choose_warehouse(settings: Settings) -> Literal["duckdb", "snowflake"]:
    """CARDFLOW_WAREHOUSE if set, else Snowflake when a block or account names it, else DuckDB.

    Raises:
        ConflictingConfiguration: CARDFLOW_WAREHOUSE=duckdb next to CARDFLOW_SNOWFLAKE_BLOCK.
    """
    if settings.warehouse_choice == "duckdb" and settings.snowflake_connector_block:
        raise ConflictingConfiguration(
            ["CARDFLOW_WAREHOUSE", "CARDFLOW_SNOWFLAKE_BLOCK"],
            f"CARDFLOW_WAREHOUSE=duckdb, but CARDFLOW_SNOWFLAKE_BLOCK names a Snowflake block "
            f"({settings.snowflake_connector_block!r}); it is not clear which warehouse this run should write",
        )
    return settings.warehouse


# --- Snowflake ----------------------------------------------------------------------------------
def _resolve_snowflake(settings: Settings, missing: list[str]) -> SnowflakeParams | None:
    """The Snowflake parameters from the block, else from env; appends missing variables."""
    if settings.snowflake_connector_block:
        return _snowflake_from_block(settings, missing)
    absent = settings.missing(*_REQUIRED_SNOWFLAKE_ENV)
    if absent:
        missing.extend(absent)
        return None
    assert settings.snowflake_account and settings.snowflake_user and settings.snowflake_password
    return SnowflakeParams(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        password=settings.snowflake_password,
        role=settings.snowflake_role,
        database=settings.snowflake_database,
        warehouse=settings.snowflake_warehouse,
        host=settings.snowflake_host,
        port=settings.snowflake_port,
        protocol=settings.snowflake_protocol,
        source="environment",
    )


def _snowflake_from_block(settings: Settings, missing: list[str]) -> SnowflakeParams | None:
    from prefect_snowflake import SnowflakeConnector

    name = str(settings.snowflake_connector_block)
    connector = _load_block(SnowflakeConnector, name, "CARDFLOW_SNOWFLAKE_BLOCK")
    credentials = connector.credentials
    host, port, protocol = _stand_in_endpoint(credentials, name)
    password = credentials.password
    block_values: dict[str, Any] = {
        "snowflake_account": credentials.account,
        "snowflake_user": credentials.user,
        "snowflake_password": password.get_secret_value() if password else None,
        "snowflake_role": credentials.role,
        "snowflake_host": host,
        "snowflake_port": port,
        "snowflake_protocol": protocol,  # https unless the block names a stand-in's http endpoint
        "snowflake_database": connector.database,
        "snowflake_warehouse": connector.warehouse,
    }
    _check_agreement(settings, block_values, f"SnowflakeConnector block {name!r}", "CARDFLOW_SNOWFLAKE_BLOCK")
    if password is None:
        missing.append(
            f"a password in SnowflakeConnector block {name!r} (cardflow connects with user and password; "
            "key-pair or SSO blocks are not supported)"
        )
        return None
    return SnowflakeParams(
        account=credentials.account,
        user=credentials.user,
        password=SecretStr(password.get_secret_value()),
        role=credentials.role,
        database=connector.database,
        warehouse=connector.warehouse,
        host=host,
        port=port,
        protocol=protocol,
        source=f"block {name!r}",
    )


def _stand_in_endpoint(credentials: Any, name: str) -> tuple[str | None, int | None, Literal["https", "http"]]:
    """Host, port and protocol of a Snowflake stand-in saved in the block's ``endpoint`` field.

    A ``SnowflakeCredentials`` block keeps only its declared fields (extra ``host``/``port`` are
    dropped when it is saved), so ``cardflow blocks`` stores a stand-in's server (fakesnow) as
    ``endpoint = "http://localhost:PORT"``. prefect-snowflake reads ``endpoint`` only for Okta
    (``authenticator="okta_endpoint"``); with any other authenticator it is free, and production
    blocks leave it empty, so the account's own endpoint is used.

    Raises:
        ConfigurationError: the endpoint is not an http(s) URL with a host.
    """
    endpoint = credentials.endpoint
    if not endpoint or credentials.authenticator == "okta_endpoint":
        return None, None, "https"
    parsed = urlparse(str(endpoint))
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigurationError(
            "CARDFLOW_SNOWFLAKE_BLOCK",
            f"block {name!r} has endpoint {endpoint!r}; cardflow reads it as the server URL of a Snowflake "
            "stand-in (http://host:port) and it must be one, or empty for Snowflake itself",
        )
    protocol: Literal["https", "http"] = "http" if parsed.scheme == "http" else "https"
    return parsed.hostname, parsed.port, protocol


def _check_agreement(settings: Settings, block_values: dict[str, Any], block: str, block_variable: str) -> None:
    """Variables set next to a block must say the same as the block, else the run is ambiguous.

    Raises:
        ConflictingConfiguration: naming every variable that disagrees (values of secrets not shown).
    """
    disagree: list[str] = []
    for field_name, block_value in block_values.items():
        if not settings.is_set(field_name):
            continue
        value = getattr(settings, field_name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None:
            continue
        if block_value is None or str(value) != str(block_value):
            disagree.append(variable_name(field_name))
    if disagree:
        raise ConflictingConfiguration(
            [block_variable, *disagree],
            f"{block} says otherwise than {', '.join(disagree)} in the environment; it is not clear which "
            "one this run should use (a worker should hold only the block name)",
        )


def _stage_url(settings: Settings, bronze: BronzeLocation) -> str | None:
    """SNOWFLAKE_STAGE_URL, else ``s3://<Bronze bucket>/<S3_PREFIX>/``, else None (local Bronze)."""
    if settings.snowflake_stage_url_override:
        return settings.snowflake_stage_url_override
    if isinstance(bronze, S3Config):
        prefix = f"{settings.s3_prefix}/" if settings.s3_prefix else ""
        url = f"s3://{bronze.bucket}/{prefix}"
        if not STAGE_URL.match(url):  # it is written into the stage DDL
            variable = "CARDFLOW_S3_BUCKET_BLOCK" if settings.s3_bucket_block else "S3_BUCKET"
            raise ConfigurationError(variable, f"cannot form a Snowflake stage URL from {url!r} (S3_PREFIX too)")
        return url
    return None


# --- Bronze -------------------------------------------------------------------------------------
def _resolve_bronze(settings: Settings, sources: dict[str, str]) -> BronzeLocation:
    if settings.s3_bucket_block:
        config = _s3_from_block(settings)
        sources["bronze"] = f"s3://{config.bucket} (block {settings.s3_bucket_block!r})"
        return config
    if settings.s3_bucket:
        sources["bronze"] = f"s3://{settings.s3_bucket} (environment)"
        return s3_config_from_env(settings)
    sources["bronze"] = f"local lake {settings.lake_dir}"
    return settings.lake_dir


def s3_config_from_env(settings: Settings) -> S3Config:
    """The S3 location from S3_BUCKET, AWS_REGION, S3_ENDPOINT_URL and the AWS keys."""
    settings.require("s3_bucket")
    return S3Config(
        bucket=str(settings.s3_bucket),
        region=settings.aws_region,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None,
        secret_access_key=settings.aws_secret_access_key,
    )


def _s3_from_block(settings: Settings) -> S3Config:
    from prefect_aws import AwsCredentials, S3Bucket

    name = str(settings.s3_bucket_block)
    bucket = _load_block(S3Bucket, name, "CARDFLOW_S3_BUCKET_BLOCK")
    credentials = bucket.credentials
    client = getattr(credentials, "aws_client_parameters", None)
    endpoint = getattr(client, "endpoint_url", None)
    key_id = getattr(credentials, "aws_access_key_id", None)
    _check_agreement(
        settings,
        {"s3_bucket": bucket.bucket_name, "s3_endpoint_url": endpoint, "aws_access_key_id": key_id},
        f"S3Bucket block {name!r}",
        "CARDFLOW_S3_BUCKET_BLOCK",
    )
    verify: bool | str | None = None
    if client is not None:
        verify = client.verify_cert_path or (False if client.verify is False else None)
    plain = isinstance(credentials, AwsCredentials) and not credentials.assume_role_arn
    token = getattr(credentials, "aws_session_token", None)
    return S3Config(
        bucket=bucket.bucket_name,
        region=getattr(credentials, "region_name", None),
        endpoint_url=endpoint,
        access_key_id=key_id if plain else None,
        secret_access_key=getattr(credentials, "aws_secret_access_key", None) if plain else None,
        session_token=SecretStr(token) if plain and token else None,
        profile_name=getattr(credentials, "profile_name", None) if plain else None,
        verify=verify,
        use_ssl=None if client is None or client.use_ssl else False,
        # other credential kinds (assumed roles, MinIO) know best how to make their session
        session_factory=None if plain else credentials.get_boto3_session,
    )


# --- blocks ---------------------------------------------------------------------------------------
_block_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_block_lock = threading.Lock()


def _load_block(cls: Any, name: str, variable: str) -> Any:
    """Load block ``name`` of ``cls`` from the Prefect API (cached for BLOCK_CACHE_SECONDS).

    Raises:
        ConfigurationError: no such block, or the API cannot be reached; names the variable.
    """
    key = (cls.__name__, name)
    now = time.monotonic()
    with _block_lock:
        cached = _block_cache.get(key)
        if cached is not None and now - cached[0] < BLOCK_CACHE_SECONDS:
            return cached[1]
    try:
        block = cls.load(name, _sync=True)
    except ValueError as exc:
        raise ConfigurationError(
            variable,
            f"no {cls.__name__} block named {name!r} on the Prefect API in use ({exc}); create it with "
            "`cardflow blocks` (or in the UI) or fix the name",
        ) from exc
    except Exception as exc:  # the API is down or refused us: say which block we were after
        raise ConfigurationError(
            variable, f"could not load {cls.__name__} block {name!r} from the Prefect API: {exc}"
        ) from exc
    with _block_lock:
        _block_cache[key] = (now, block)
    logger.info("loaded %s block %r", cls.__name__, name)
    return block


def clear_block_cache() -> None:
    """Forget loaded blocks (after a rotation; tests)."""
    with _block_lock:
        _block_cache.clear()

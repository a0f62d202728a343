"""Lineage as Prefect assets: event store -> Bronze prefix -> RAW.EVENTS -> Silver -> Gold.

Each stage, after it committed, records one materialization per asset it wrote, with the assets it
read as upstream and its row counts as metadata (``prefect.asset.materialization.succeeded``
events; the UI draws the graph from them). The keys come from one function per kind of asset
(:func:`event_store_asset`, :func:`bronze_asset`, :func:`raw_events_asset`, :func:`model_asset`), so
the backfill and the real-time landing materialize the *same* Bronze asset and the load reads it.

Silver and Gold are recorded here, after publish, under their *published* relations: dbt builds
into audit schemas (write-audit-publish), so the per-node assets prefect-dbt could emit would name
audit tables nobody reads. A recording is a tiny ``@materialize`` task run, made at run time
because the keys depend on the settings (bucket, database, schemas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE

from cardflow.settings import Settings

#: characters Prefect refuses in asset keys (a path with a space, a bucket prefix with '#')
_RESTRICTED = "\n\r\t\0 #?&%\"'<>[]{}|\\^`"


def _key(value: str) -> str:
    return "".join(c for c in value if c not in _RESTRICTED)[:512]


def event_store_asset(settings: Settings) -> Asset:
    """The Postgres events table the backfill reads."""
    host = "embedded" if settings.uses_embedded_postgres else f"{settings.postgres_host}:{settings.postgres_port}"
    return Asset(
        key=_key(f"postgres://{host}/{settings.postgres_db}/{settings.events_table}"),
        properties=AssetProperties(
            name=f"event store {settings.postgres_db}.{settings.events_table}",
            description="The producers' immutable event table (read-only to cardflow).",
        ),
    )


def rabbitmq_asset(settings: Settings) -> Asset:
    """The RabbitMQ queue the real-time receivers land from (no credentials in the key)."""
    from cardflow.sources.mq.connection import describe_url

    return Asset(
        key=_key(f"amqp://{describe_url(settings.rabbitmq_url).split('://')[-1].rstrip('/')}/{settings.rabbitmq_queue}"),
        properties=AssetProperties(name=f"RabbitMQ queue {settings.rabbitmq_queue}"),
    )


def bronze_asset(bronze_uri: str) -> Asset:
    """The Bronze prefix (``file://`` or ``s3://``): gzip NDJSON, partitioned, immutable."""
    return Asset(
        key=_key(bronze_uri),
        properties=AssetProperties(name="Bronze", url=bronze_uri, description="Raw events as landed."),
    )


def _warehouse_key(settings: Settings, schema: str, table: str) -> str:
    if settings.warehouse == "snowflake":
        return _key(f"snowflake://{settings.snowflake_database}/{schema}/{table}".lower())
    return _key(f"duckdb://{settings.duckdb_path.stem}/{schema}/{table}".lower())


def raw_events_asset(settings: Settings) -> Asset:
    """RAW.EVENTS, one row per Bronze record (loaded exactly once per file)."""
    raw = settings.snowflake_raw_schema
    return Asset(
        key=_warehouse_key(settings, raw, "events"),
        properties=AssetProperties(name=f"{raw}.EVENTS".upper()),
    )


def model_asset(settings: Settings, schema: str, model: str) -> Asset:
    """A published dbt model (Silver or Gold)."""
    return Asset(key=_warehouse_key(settings, schema, model), properties=AssetProperties(name=f"{schema}.{model}"))


def record_materialization(
    asset: Asset, upstream: Iterable[Asset], metadata: Mapping[str, Any], *, by: str = "cardflow"
) -> None:
    """Record that ``asset`` was (re)written from ``upstream``, with ``metadata`` (row counts).

    Runs one small ``@materialize`` task in the current flow run; Prefect emits the events.
    """

    @materialize(
        asset,
        by=by,
        asset_deps=list(upstream),
        task_run_name=f"materialize {asset.properties.name if asset.properties else asset.key}",
        cache_policy=NO_CACHE,
    )
    def materialized() -> None:
        add_asset_metadata(asset, dict(metadata))

    materialized()


def record_bronze_landing(settings: Settings, bronze_uri: str, metadata: Mapping[str, Any], *, realtime: bool) -> None:
    """The backfill (from the event store) or the real-time landing (from RabbitMQ) wrote Bronze."""
    source = rabbitmq_asset(settings) if realtime else event_store_asset(settings)
    record_materialization(bronze_asset(bronze_uri), [source], metadata)


def record_raw_load(settings: Settings, bronze_uri: str, metadata: Mapping[str, Any]) -> None:
    """The load wrote RAW.EVENTS from Bronze."""
    record_materialization(raw_events_asset(settings), [bronze_asset(bronze_uri)], metadata)


def record_layer(
    settings: Settings,
    layer: str,
    published_schema: str,
    models: Iterable[str],
    rows: Mapping[str, int],
    upstream: Iterable[Asset] | None = None,
    *,
    by: str = "dbt",
) -> list[Asset]:
    """A published layer's models, each from ``upstream`` (default: RAW.EVENTS, Silver's source).

    Returns:
        The layer's assets (the next layer's upstream).
    """
    upstream = list(upstream) if upstream is not None else [raw_events_asset(settings)]
    assets = []
    for model in sorted(models):
        asset = model_asset(settings, published_schema, model)
        metadata: dict[str, Any] = {"layer": layer}
        if model in rows:
            metadata["rows"] = rows[model]
        record_materialization(asset, upstream, metadata, by=by)
        assets.append(asset)
    return assets

"""The quality gate of a layer: validate the audit copies of Silver or Gold models against their suites.

:func:`gate_layer` is what ``dbt_transform_and_test`` runs between building a layer into its audit
schema and publishing it: it fills the suites' ``$PARAMETER`` placeholders (:func:`gate_parameters`),
validates every model (:func:`validate_layer`) and renders Data Docs. It never raises on failed
expectations: the caller alerts, then calls :meth:`GateResult.raise_if_failed`.

Two engines, one result shape (:mod:`cardflow.quality.results`): on DuckDB the tables are validated
in bounded pandas pieces (:mod:`cardflow.quality.duckdb_engine`), on Snowflake GX's SQL datasource
computes every metric in the warehouse (:mod:`cardflow.quality.snowflake_engine`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cardflow.quality.data_docs import attach_data_docs
from cardflow.quality.duckdb_engine import PandasValidator, validate_model_duckdb
from cardflow.quality.results import GateResult, ModelResult, shorten
from cardflow.quality.snowflake_engine import SnowflakeValidator, with_session_role
from cardflow.quality.suites import Layer, SuiteSpec, suites_for
from cardflow.settings import Settings
from cardflow.warehouse.connection import SessionOpener, WarehouseSession
from cardflow.warehouse.snowflake import SnowflakeParams

logger = logging.getLogger(__name__)


def validate_layer(
    warehouse: WarehouseSession,
    specs: list[SuiteSpec],
    schema: str,
    gate: str,
    parameters: dict[str, Any],
    chunk_rows: int = 500_000,
    published_schema: str | None = None,
) -> GateResult:
    """Validate every model of ``specs`` in ``schema`` (the audit schema); never raises on failures.

    ``published_schema``: where the layer's published version is; on DuckDB the row checks of a
    model without ``processed_at`` (Gold) then cover only the rows that differ from it. Snowflake
    computes every metric in the warehouse over the whole table.
    """
    started = time.perf_counter()
    models: list[ModelResult] = []
    if warehouse.dialect == "duckdb":
        validator = PandasValidator()
        for spec in specs:
            models.append(
                validate_model_duckdb(
                    warehouse, validator, spec, schema, parameters, chunk_rows, baseline=published_schema
                )
            )
        engine = f"pandas (DuckDB, chunks of {chunk_rows:,} rows)"
    else:
        if not isinstance(warehouse.target, SnowflakeParams):
            raise TypeError("a Snowflake session must carry its SnowflakeParams (open it with open_session)")
        sql_validator = SnowflakeValidator(with_session_role(warehouse, warehouse.target), schema)
        for spec in specs:
            models.append(sql_validator.validate_model(spec, parameters))
        engine = "Snowflake SQL datasource"
    result = GateResult(
        gate,
        schema,
        engine,
        models,
        time.perf_counter() - started,
        parameters={k: shorten(v) for k, v in parameters.items()},
    )
    logger.info(
        "gate %s on %s: %s (%d models, %d failed expectations, %.1f s)",
        gate,
        schema,
        "passed" if result.success else "FAILED",
        len(models),
        len(result.failures()),
        result.seconds,
    )
    return result


def gate_parameters(
    warehouse: WarehouseSession,
    layer: Layer,
    settings: Settings,
    *,
    silver_schema: str,
    gold_audit_schema: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Values for the suites' ``$PARAMETER`` placeholders.

    silver: ``freshness_floor`` (now - RAW_EVENTS_FRESHNESS_ERROR_HOURS).
    gold: the SKUs of the audited dim_card in ``gold_audit_schema`` (DuckDB: ``known_skus_relation``,
    the table the engine anti-joins with; Snowflake: ``known_skus``, the list), and the Silver event
    counts in ``silver_schema`` (the Silver Gold was built from) that bound Gold row counts
    (``silver_order_events``, ``silver_batch_events``, ``silver_catalog_events``).
    """
    now = now or datetime.now(UTC)
    if layer == "silver":
        return {"freshness_floor": now - timedelta(hours=settings.raw_events_freshness_error_hours)}

    def count(table: str) -> int:
        return int(warehouse.query(f"SELECT count(*) FROM {warehouse.qualified(silver_schema, table)}")[0][0])

    if warehouse.dialect == "duckdb":
        # the DuckDB engine checks membership by anti-join with this table (sql_checks), not a list
        known: dict[str, Any] = {"known_skus_relation": f"{gold_audit_schema}.dim_card"}
    else:
        dim_card = warehouse.qualified(gold_audit_schema, "dim_card")
        skus = [r[0] for r in warehouse.query(f"SELECT DISTINCT sku FROM {dim_card}")]
        known = {"known_skus": sorted(skus)}
    return {
        **known,
        "silver_order_events": count("stg_order_created"),
        "silver_batch_events": count("stg_manufacturing_batch"),
        "silver_catalog_events": count("stg_card_catalog_entry_inserted"),
    }


def gate_layer(
    open_session: SessionOpener,
    layer: Layer,
    settings: Settings,
    *,
    audit_schema: str,
    silver_schema: str,
    gold_audit_schema: str,
    published_schema: str | None = None,
    now: datetime | None = None,
) -> GateResult:
    """Validate ``audit_schema`` (the audit copy of ``layer``) with the layer's suites and write Data Docs.

    ``open_session`` opens the warehouse session (the backend chooser's ``Backends.open_session``);
    the session is closed before Data Docs are rendered. ``silver_schema`` and ``gold_audit_schema``
    locate the tables the Gold suites' parameters are read from; ``published_schema`` (the layer's
    published schema) lets the DuckDB engine check only rows that changed since the last publish
    (:func:`validate_layer`). Data Docs go to ``<data dir>/gx``.
    Never raises on failed expectations: see :meth:`GateResult.raise_if_failed`.
    """
    specs = suites_for(layer)
    with open_session() as warehouse:
        parameters = gate_parameters(
            warehouse, layer, settings, silver_schema=silver_schema, gold_audit_schema=gold_audit_schema, now=now
        )
        result = validate_layer(
            warehouse,
            specs,
            audit_schema,
            layer,
            parameters,
            chunk_rows=settings.quality_chunk_rows,
            published_schema=published_schema,
        )
    attach_data_docs(result, specs, settings.resolved_data_dir / "gx", index_limit=settings.data_docs_index_limit)
    return result

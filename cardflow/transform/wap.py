"""Write-audit-publish for the dbt layers: build into an audit schema, gate it, then publish.

A layer (silver or gold) is built by dbt into ``<schema><CARDFLOW_AUDIT_SCHEMA_SUFFIX>`` (SILVER_AUDIT,
GOLD_AUDIT) instead of the schema analysts read. dbt takes the schema from SNOWFLAKE_SILVER_SCHEMA /
SNOWFLAKE_GOLD_SCHEMA (``dbt_project.yml``), so :func:`audit_settings` only swaps that one setting:
the dbt project needs no change, and Gold built into GOLD_AUDIT reads the *published* Silver.

Incremental models extend what their table already holds, so before the audit build each model's
published table is cloned into the audit schema (:func:`prepare_audit`; a model never published is
dropped from the audit schema, so a failed earlier run's leftovers are not built upon). The audit
build therefore equals "published + this run's changes". :func:`publish` then replaces the
published tables with the audit ones:

* DuckDB: ``CREATE OR REPLACE TABLE published AS SELECT * FROM audit`` for every model of the layer
  in ONE transaction (all tables switch or none do);
* Snowflake: ``ALTER TABLE audit SWAP WITH published`` per table (atomic per table; Snowflake DDL
  cannot share a transaction), or, with CARDFLOW_SNOWFLAKE_PUBLISH_MODE=clone, drop + ``CREATE TABLE
  published CLONE audit`` for stand-ins without SWAP (fakesnow; not atomic, never for production).

:func:`build_layer` (prepare + ``dbt build`` into the audit schema) and :func:`publish_layer` are the
steps ``dbt_transform_and_test`` runs around the quality gate.

When the gate fails nothing here runs: the published tables are untouched and the audit tables stay
for inspection until the next run re-clones them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cardflow.errors import TransformError
from cardflow.settings import Settings
from cardflow.sqlfiles import named_statements
from cardflow.transform.dbt import DbtInvoker, invoke_dbt
from cardflow.warehouse.base import plain_identifier
from cardflow.warehouse.connection import SessionOpener, WarehouseSession, WarehouseTarget

logger = logging.getLogger(__name__)

LayerName = Literal["silver", "gold"]
#: dbt selection (model folders) of each layer
LAYER_SELECTION: dict[str, tuple[str, ...]] = {"silver": ("staging", "intermediate"), "gold": ("marts",)}
DBT_MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "models"


@dataclass(frozen=True)
class LayerSchemas:
    """Where a layer is published and where it is audited."""

    layer: str
    published: str
    audit: str


def layer_schemas(settings: Settings, layer: LayerName) -> LayerSchemas:
    published = settings.snowflake_silver_schema if layer == "silver" else settings.snowflake_gold_schema
    return LayerSchemas(layer, published, f"{published}{settings.audit_schema_suffix}")


def audit_settings(settings: Settings, layer: LayerName) -> Settings:
    """Settings whose dbt build of ``layer`` lands in its audit schema (other layers unchanged)."""
    field = "snowflake_silver_schema" if layer == "silver" else "snowflake_gold_schema"
    return settings.model_copy(update={field: layer_schemas(settings, layer).audit})


def layer_models(layer: LayerName, models_dir: Path = DBT_MODELS_DIR) -> list[str]:
    """The dbt models of ``layer`` (one ``.sql`` file per model in the layer's folders)."""
    names = [p.stem for folder in LAYER_SELECTION[layer] for p in sorted((models_dir / folder).glob("*.sql"))]
    if not names:
        raise FileNotFoundError(f"no dbt models for layer {layer} under {models_dir}")
    return names


def _sql(warehouse: WarehouseSession, key: str) -> str:
    return named_statements("wap.sql", __file__)[f"{warehouse.dialect}_{key}"]


def _name(warehouse: WarehouseSession, schema: str, table: str) -> str:
    table = plain_identifier(table)  # a model name comes from a file name, not from validated settings
    return (
        f"{warehouse.database}.{schema}.{table}" if warehouse.dialect == "snowflake" else f"{schema}.{table}"
    )


def prepare_audit(
    warehouse: WarehouseSession, schemas: LayerSchemas, models: list[str], *, full_refresh: bool = False
) -> dict[str, str]:
    """Make the audit schema hold exactly the published state of ``models`` before the dbt build.

    Returns what was done per model (``cloned``, ``dropped``). With ``full_refresh`` nothing is
    cloned (dbt rebuilds everything from RAW).
    """
    warehouse.execute(_sql(warehouse, "create_schema").format(schema=_name_schema(warehouse, schemas.audit)))
    done: dict[str, str] = {}
    for model in models:
        audit, published = _name(warehouse, schemas.audit, model), _name(warehouse, schemas.published, model)
        warehouse.execute(_sql(warehouse, "drop_audit").format(audit=audit))
        if not full_refresh and warehouse.table_exists(schemas.published, model):
            warehouse.execute(_sql(warehouse, "clone_to_audit").format(audit=audit, published=published))
            done[model] = "cloned"
        else:
            done[model] = "dropped"
    logger.info("audit schema %s prepared for %s: %s", schemas.audit, schemas.layer, done)
    return done


def _name_schema(warehouse: WarehouseSession, schema: str) -> str:
    return f"{warehouse.database}.{schema}" if warehouse.dialect == "snowflake" else schema


def publish(
    warehouse: WarehouseSession, schemas: LayerSchemas, models: list[str], settings: Settings
) -> dict[str, str]:
    """Replace the published tables of ``models`` with their audit versions (see the module doc).

    Raises:
        RuntimeError: an audit table is missing (the build did not produce it): nothing published.
    """
    missing = [m for m in models if not warehouse.table_exists(schemas.audit, m)]
    if missing:
        raise RuntimeError(
            f"cannot publish {schemas.layer}: audit table(s) {', '.join(missing)} missing in "
            f"{schemas.audit}; "
            "nothing was published. Re-run the transform."
        )
    done: dict[str, str] = {}
    warehouse.execute(
        _sql(warehouse, "create_schema").format(schema=_name_schema(warehouse, schemas.published))
    )
    if warehouse.dialect == "duckdb":
        warehouse.execute("BEGIN TRANSACTION")
        try:
            for model in models:
                warehouse.execute(
                    _sql(warehouse, "publish").format(
                        audit=_name(warehouse, schemas.audit, model),
                        published=_name(warehouse, schemas.published, model),
                    )
                )
                done[model] = "replaced"
            warehouse.execute("COMMIT")
        except Exception:
            warehouse.execute("ROLLBACK")
            raise
    else:
        for model in models:
            audit, published = (
                _name(warehouse, schemas.audit, model),
                _name(warehouse, schemas.published, model),
            )
            if settings.snowflake_publish_mode == "clone":
                warehouse.execute(_sql(warehouse, "drop_published").format(published=published))
                key, done[model] = "publish_clone", "cloned"
            elif warehouse.table_exists(schemas.published, model):
                key, done[model] = "publish_swap", "swapped"
            else:
                key, done[model] = "publish_rename", "renamed"
            warehouse.execute(_sql(warehouse, key).format(audit=audit, published=published))
    logger.info("published %s: %s -> %s (%s)", schemas.layer, schemas.audit, schemas.published, done)
    return done


def build_layer(
    layer: LayerName,
    settings: Settings,
    target: WarehouseTarget,
    open_session: SessionOpener,
    *,
    full_refresh: bool = False,
    invoker: DbtInvoker | None = None,
) -> dict[str, Any]:
    """Clone the published layer into its audit schema, then ``dbt build`` the layer there.

    ``invoker`` runs dbt (default: plain ``dbtRunner``; the Prefect task passes prefect-dbt's).

    ``settings`` are the resolved ones (what the blocks contributed folded in) and ``target`` the
    warehouse dbt's temporary profile is rendered from. Returns the dbt summary as a dict plus what the
    preparation did per model.

    Raises:
        TransformError: a model failed or an error-severity dbt test failed (nothing published).
    """
    schemas = layer_schemas(settings, layer)
    models = layer_models(layer)
    with open_session() as warehouse:  # closed before dbt opens the DuckDB file
        prepared = prepare_audit(warehouse, schemas, models, full_refresh=full_refresh)
    args = ["build", "--select", *LAYER_SELECTION[layer]]
    if full_refresh:
        args.append("--full-refresh")
    if settings.dbt_skip_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    summary = invoke_dbt(args, audit_settings(settings, layer), target, invoker=invoker)
    if summary.failed or not summary.success:
        listed = "\n".join(f"  - {n.describe()}" for n in summary.failed) or "  (no node reported a failure)"
        raise TransformError(
            f"dbt {' '.join(args)} of {layer} into {schemas.audit} failed: "
            f"{len(summary.failed)} node(s):\n{listed}\nNothing was published; {schemas.published} is "
            f"unchanged and {schemas.audit} holds the failed build."
        )
    return {"layer": layer, "audit_schema": schemas.audit, "prepared": prepared, "dbt": summary.as_dict()}


def publish_layer(layer: LayerName, settings: Settings, open_session: SessionOpener) -> dict[str, str]:
    """Publish the audited ``layer`` (only ever called after its gate passed)."""
    with open_session() as warehouse:
        return publish(warehouse, layer_schemas(settings, layer), layer_models(layer), settings)

"""Write-audit-publish for the dbt layers: build into an audit schema, gate it, then publish both.

A layer (silver or gold) is built by dbt into an audit schema instead of the schema analysts read.
dbt takes the schemas from SNOWFLAKE_SILVER_SCHEMA / SNOWFLAKE_GOLD_SCHEMA (``dbt_project.yml``),
so :func:`audit_settings` only swaps those settings: the dbt project needs no change. Gold is built
reading the *audited* Silver, and both layers are published together after both gates passed, so
analysts never see a new Silver next to an old Gold.

**DuckDB: two audit slots, published as views, nothing copied.** Each layer has two slot schemas,
``<schema><suffix>`` and ``<schema><suffix>_B`` (SILVER_AUDIT, SILVER_AUDIT_B). The published
schema holds one view per model over the live slot. A run builds into the other slot, which holds
the version published before the live one: the incremental models catch up from there (Silver by
its RAW watermark, Gold facts by their anti-join with Silver), so the build costs what changed
since, not a copy of the layer. :func:`publish` repoints every view of both layers in ONE
transaction (a crash before COMMIT leaves every old view in place, readable). Only a slot whose
build was never published (a failed gate or build) is first re-synced from the published layer
(the one copy, after a failure only). ``main.cardflow_wap_state`` records per layer the live slot
and the slot a build started in.

**Snowflake:** one audit schema per layer; before the build each model's published table is
zero-copy cloned into it (``CLONE``), and :func:`publish` swaps each table with ``ALTER TABLE ...
SWAP WITH`` (metadata only; atomic per table, as Snowflake DDL commits per statement), or with
CARDFLOW_SNOWFLAKE_PUBLISH_MODE=clone drop + ``CLONE`` for stand-ins without SWAP (fakesnow, which
also lacks ``ALTER SCHEMA ... SWAP``; not atomic, never production).

When a gate fails nothing is published: the published views/tables are untouched and the audit
schema keeps what failed for inspection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cardflow.errors import TransformError
from cardflow.settings import Settings
from cardflow.sqlfiles import named_statements
from cardflow.transform.build_stamp import BuildStamp, ensure_published_builds, record_published
from cardflow.transform.dbt import DbtInvoker, invoke_dbt
from cardflow.warehouse.base import plain_identifier, quote_literal
from cardflow.warehouse.connection import SessionOpener, WarehouseSession, WarehouseTarget

logger = logging.getLogger(__name__)

LayerName = Literal["silver", "gold"]
#: dbt selection (model folders) of each layer
LAYER_SELECTION: dict[str, tuple[str, ...]] = {"silver": ("staging", "intermediate"), "gold": ("marts",)}
DBT_MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "models"
SECOND_SLOT_SUFFIX = "_B"


@dataclass(frozen=True)
class LayerSchemas:
    """Where a layer is published and where it is audited (``audit`` is the first DuckDB slot and
    Snowflake's one audit schema)."""

    layer: str
    published: str
    audit: str

    @property
    def slots(self) -> tuple[str, str]:
        return self.audit, f"{self.audit}{SECOND_SLOT_SUFFIX}"

    def other_slot(self, slot: str | None) -> str:
        return self.slots[1] if slot == self.slots[0] else self.slots[0]


@dataclass(frozen=True)
class SlotState:
    """DuckDB: the slot a layer's views point at, and the slot a build started in (None: none)."""

    live: str | None
    building: str | None


def layer_schemas(settings: Settings, layer: LayerName) -> LayerSchemas:
    published = settings.snowflake_silver_schema if layer == "silver" else settings.snowflake_gold_schema
    return LayerSchemas(layer, published, f"{published}{settings.audit_schema_suffix}")


def audit_settings(
    settings: Settings, layer: LayerName, audit: str | None = None, *, silver: str | None = None
) -> Settings:
    """Settings whose dbt build of ``layer`` lands in ``audit`` (default: the layer's first audit
    schema); ``silver`` is the Silver schema a Gold build reads (default: the published one)."""
    update = {
        "snowflake_silver_schema" if layer == "silver" else "snowflake_gold_schema": audit
        or layer_schemas(settings, layer).audit
    }
    if layer == "gold" and silver:
        update["snowflake_silver_schema"] = silver
    return settings.model_copy(update=update)


def layer_models(layer: LayerName, models_dir: Path = DBT_MODELS_DIR) -> list[str]:
    """The dbt models of ``layer`` (one ``.sql`` file per model in the layer's folders)."""
    names = [p.stem for folder in LAYER_SELECTION[layer] for p in sorted((models_dir / folder).glob("*.sql"))]
    if not names:
        raise FileNotFoundError(f"no dbt models for layer {layer} under {models_dir}")
    return names


def _sql(warehouse: WarehouseSession, key: str) -> str:
    return named_statements("wap.sql", __file__)[f"{warehouse.dialect}_{key}"]


def _name(warehouse: WarehouseSession, schema: str, table: str) -> str:
    # a model name comes from a file name, not from validated settings
    return warehouse.qualified(schema, plain_identifier(table))


# --- DuckDB slot state ---------------------------------------------------------------------------
def slot_state(warehouse: WarehouseSession, layer: str) -> SlotState:
    """The layer's slot state (both None before its first build)."""
    warehouse.execute(_sql(warehouse, "state_create"))
    rows = warehouse.query(_sql(warehouse, "state_get").format(layer=layer))
    return SlotState(*rows[0]) if rows else SlotState(None, None)


def _set_state(warehouse: WarehouseSession, layer: str, state: SlotState) -> None:
    def literal(value: str | None) -> str:
        return "NULL" if value is None else quote_literal(value, warehouse.dialect)

    warehouse.execute(_sql(warehouse, "state_forget").format(layer=layer))
    warehouse.execute(
        _sql(warehouse, "state_set").format(layer=layer, live=literal(state.live), building=literal(state.building))
    )


def audit_schema(warehouse: WarehouseSession, schemas: LayerSchemas) -> str:
    """The schema the layer is (being) built and gated in: on DuckDB the slot a build started in,
    else the one the published views do not point at; on Snowflake the one audit schema."""
    if warehouse.dialect != "duckdb":
        return schemas.audit
    state = slot_state(warehouse, schemas.layer)
    return state.building or schemas.other_slot(state.live)


def current_audit_schemas(settings: Settings, open_session: SessionOpener) -> dict[str, str]:
    """Per layer, the schema its latest build went to (what the gates validate)."""
    with open_session() as warehouse:
        return {
            layer: audit_schema(warehouse, layer_schemas(settings, layer))  # type: ignore[arg-type]
            for layer in ("silver", "gold")
        }


# --- table comments -------------------------------------------------------------------------------
def copy_comment(warehouse: WarehouseSession, schema: str, model: str, target: str) -> None:
    """Give ``target`` (a copy of ``schema.model``) the table comment of ``schema.model``, or an
    empty one.

    Silver's comment records how far into RAW its build looked (the next incremental run's
    watermark, dbt/macros/examined_through.sql). A DuckDB ``CREATE TABLE AS`` copy drops it (the
    next run would re-read RAW from the newest row instead); fakesnow keeps a dropped table's
    comment for the next table of that name, which could claim more than the copy holds. Setting it
    from the source on every copy keeps the claim true on each engine.
    """
    found = warehouse.query(
        _sql(warehouse, "table_comment").format(
            database=warehouse.database,
            schema=quote_literal(schema, warehouse.dialect),
            table=quote_literal(plain_identifier(model), warehouse.dialect),
        )
    )
    comment = str(found[0][0]) if found and found[0][0] is not None else ""
    warehouse.execute(
        _sql(warehouse, "set_comment").format(target=target, comment=quote_literal(comment, warehouse.dialect))
    )


# --- prepare --------------------------------------------------------------------------------------
def prepare_audit(
    warehouse: WarehouseSession, schemas: LayerSchemas, models: list[str], *, full_refresh: bool = False
) -> dict[str, str]:
    """Make the audit schema ready for an incremental build of ``models``; returns what was done
    per model.

    DuckDB: ``kept`` (the slot holds an earlier published version: the build catches up from it),
    ``resynced`` (the slot held an unpublished build, or is used for the first time: copied from the
    published layer), ``dropped``
    (nothing published yet, or ``full_refresh``). Snowflake: ``cloned`` or ``dropped``.
    """
    if warehouse.dialect == "duckdb":
        return _prepare_slot(warehouse, schemas, models, full_refresh=full_refresh)
    warehouse.execute(_sql(warehouse, "create_schema").format(schema=warehouse.qualified_schema(schemas.audit)))
    done: dict[str, str] = {}
    for model in models:
        audit, published = _name(warehouse, schemas.audit, model), _name(warehouse, schemas.published, model)
        warehouse.execute(_sql(warehouse, "drop_audit").format(audit=audit))
        if not full_refresh and warehouse.table_exists(schemas.published, model):
            warehouse.execute(_sql(warehouse, "clone_to_audit").format(audit=audit, published=published))
            copy_comment(warehouse, schemas.published, model, audit)
            done[model] = "cloned"
        else:
            done[model] = "dropped"
    logger.info("audit schema %s prepared for %s: %s", schemas.audit, schemas.layer, done)
    return done


def _prepare_slot(
    warehouse: WarehouseSession, schemas: LayerSchemas, models: list[str], *, full_refresh: bool
) -> dict[str, str]:
    state = slot_state(warehouse, schemas.layer)
    # no state yet counts as dirty: a slot left by an earlier cardflow may hold anything
    dirty = state.building is not None or state.live is None
    slot = state.building or schemas.other_slot(state.live)
    warehouse.execute(_sql(warehouse, "create_schema").format(schema=slot))
    done: dict[str, str] = {}
    for model in models:
        audit = _name(warehouse, slot, model)
        # a clean slot that never held the model (its first use) starts from published, like a dirty one
        fresh = dirty or not warehouse.table_exists(slot, model)
        if full_refresh or (fresh and not warehouse.table_exists(schemas.published, model)):
            warehouse.execute(_sql(warehouse, "drop_audit").format(audit=audit))
            done[model] = "dropped"
        elif fresh:
            published = _name(warehouse, schemas.published, model)
            warehouse.execute(_sql(warehouse, "resync_audit").format(audit=audit, published=published))
            # the published name is a view over the live slot (or, before the slots, a table)
            copy_comment(warehouse, state.live or schemas.published, model, audit)
            done[model] = "resynced"
        else:
            done[model] = "kept"
    _set_state(warehouse, schemas.layer, SlotState(state.live, slot))
    logger.info("audit slot %s prepared for %s: %s", slot, schemas.layer, done)
    return done


# --- publish --------------------------------------------------------------------------------------
def publish(
    warehouse: WarehouseSession,
    layers: Sequence[tuple[LayerSchemas, list[str]]],
    settings: Settings,
    stamp: BuildStamp | None = None,
) -> dict[str, dict[str, str]]:
    """Publish the audited ``layers`` (each with its models); returns, per layer, what was done per model.

    DuckDB: every view of every layer is repointed to the layer's audit slot in ONE transaction.
    Snowflake: per table SWAP (or clone mode), layer by layer. ``stamp`` (what the build read,
    :mod:`cardflow.transform.build_stamp`) is recorded in the DuckDB transaction, on Snowflake
    after the last swap (a crash before it costs one more build, never a skipped one).

    Raises:
        RuntimeError: an audit table is missing (its build did not produce it): nothing published.
    """
    audits = {schemas.layer: audit_schema(warehouse, schemas) for schemas, _ in layers}
    for schemas, models in layers:
        missing = [m for m in models if not warehouse.table_exists(audits[schemas.layer], m)]
        if missing:
            raise RuntimeError(
                f"cannot publish {schemas.layer}: audit table(s) {', '.join(missing)} missing in "
                f"{audits[schemas.layer]}; nothing was published. Re-run the transform."
            )
    for schemas, _ in layers:
        warehouse.execute(_sql(warehouse, "create_schema").format(schema=warehouse.qualified_schema(schemas.published)))
    if stamp is not None:
        ensure_published_builds(warehouse, settings)
    if warehouse.dialect == "duckdb":
        return _publish_views(warehouse, layers, audits, settings, stamp)
    done: dict[str, dict[str, str]] = {}
    for schemas, models in layers:
        done[schemas.layer] = {}
        for model in models:
            audit, published = _name(warehouse, schemas.audit, model), _name(warehouse, schemas.published, model)
            if settings.snowflake_publish_mode == "clone":
                warehouse.execute(_sql(warehouse, "drop_published").format(published=published))
                key, done[schemas.layer][model] = "publish_clone", "cloned"
            elif warehouse.table_exists(schemas.published, model):
                key, done[schemas.layer][model] = "publish_swap", "swapped"
            else:
                key, done[schemas.layer][model] = "publish_rename", "renamed"
            warehouse.execute(_sql(warehouse, key).format(audit=audit, published=published))
            if key == "publish_clone":
                copy_comment(warehouse, schemas.audit, model, published)
        logger.info("published %s: %s -> %s (%s)", schemas.layer, schemas.audit, schemas.published, done)
    if stamp is not None:
        record_published(warehouse, settings, stamp)
    return done


def _publish_views(
    warehouse: WarehouseSession,
    layers: Sequence[tuple[LayerSchemas, list[str]]],
    audits: dict[str, str],
    settings: Settings,
    stamp: BuildStamp | None,
) -> dict[str, dict[str, str]]:
    base_tables = {
        (str(s).upper(), str(t).upper())
        for s, t in warehouse.query(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        )
    }
    done: dict[str, dict[str, str]] = {}
    warehouse.execute("BEGIN TRANSACTION")
    try:
        for schemas, models in layers:
            slot = audits[schemas.layer]
            done[schemas.layer] = {}
            for model in models:
                published = _name(warehouse, schemas.published, model)
                if (schemas.published.upper(), model.upper()) in base_tables:
                    warehouse.execute(_sql(warehouse, "drop_published_table").format(published=published))
                _publish_step(warehouse, published, _name(warehouse, slot, model))
                done[schemas.layer][model] = f"view -> {slot}"
            _set_state(warehouse, schemas.layer, SlotState(slot, None))
        if stamp is not None:
            record_published(warehouse, settings, stamp)
        warehouse.execute("COMMIT")
    except BaseException:
        warehouse.execute("ROLLBACK")
        raise
    logger.info("published %s", {layer: audits[layer] for layer in done})
    return done


def _publish_step(warehouse: WarehouseSession, published: str, audit: str) -> None:
    """Repoint one published view (a separate function so tests can crash between two of them)."""
    warehouse.execute(_sql(warehouse, "publish_view").format(published=published, audit=audit))


# --- the steps the flow runs ----------------------------------------------------------------------
def build_layer(
    layer: LayerName,
    settings: Settings,
    target: WarehouseTarget,
    open_session: SessionOpener,
    *,
    full_refresh: bool = False,
    invoker: DbtInvoker | None = None,
) -> dict[str, Any]:
    """Prepare the layer's audit schema, then ``dbt build`` the layer there (Gold reading the
    audited Silver).

    ``invoker`` runs dbt (default: plain ``dbtRunner``; the Prefect task passes prefect-dbt's).
    ``settings`` are the resolved ones (what the blocks contributed folded in) and ``target`` the
    warehouse dbt's temporary profile is rendered from. Returns the dbt summary as a dict, the audit
    schema and what the preparation did per model.

    Raises:
        TransformError: a model failed or an error-severity dbt test failed (nothing published).
    """
    schemas = layer_schemas(settings, layer)
    models = layer_models(layer)
    with open_session() as warehouse:  # closed before dbt opens the DuckDB file
        prepared = prepare_audit(warehouse, schemas, models, full_refresh=full_refresh)
        audit = audit_schema(warehouse, schemas)
        silver = audit_schema(warehouse, layer_schemas(settings, "silver")) if layer == "gold" else None
    args = ["build", "--select", *LAYER_SELECTION[layer]]
    if full_refresh:
        args.append("--full-refresh")
    if settings.dbt_skip_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    summary = invoke_dbt(args, audit_settings(settings, layer, audit, silver=silver), target, invoker=invoker)
    if summary.failed or not summary.success:
        listed = "\n".join(f"  - {n.describe()}" for n in summary.failed) or "  (no node reported a failure)"
        raise TransformError(
            f"dbt {' '.join(args)} of {layer} into {audit} failed: "
            f"{len(summary.failed)} node(s):\n{listed}\nNothing was published; {schemas.published} is "
            f"unchanged and {audit} holds the failed build."
        )
    return {"layer": layer, "audit_schema": audit, "prepared": prepared, "dbt": summary.as_dict()}


def publish_layers(
    layers: Sequence[LayerName],
    settings: Settings,
    open_session: SessionOpener,
    stamp: BuildStamp | None = None,
) -> dict[str, dict[str, str]]:
    """Publish the audited ``layers`` together (only ever called after their gates passed), recording
    ``stamp``, what their build read, when given."""
    with open_session() as warehouse:
        return publish(
            warehouse, [(layer_schemas(settings, layer), layer_models(layer)) for layer in layers], settings, stamp
        )

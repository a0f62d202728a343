"""The quality steps of ``dbt_transform_and_test``: RAW checks, audit builds, gates, publishing.

Plain functions do the work (tests call them without Prefect); the ``@task`` wrappers below them add
the Prefect artifact and the alert hook. The order the flow runs them in:

    raw_events_checks -> build_layer(silver) -> gate_layer(silver) -> publish_layer(silver)
                      -> build_layer(gold)   -> gate_layer(gold)   -> publish_layer(gold)

A failure at any step raises (QualityGateFailed / TransformError) before the next publish, so the
published schemas keep the last good state and the audit schemas keep what failed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import QualityGateFailed, TransformError
from cardflow.quality.gate import GateResult, validate_layer, write_data_docs
from cardflow.quality.raw_checks import RawChecksReport, run_raw_checks
from cardflow.quality.reconcile import (
    ReconciliationReport,
    event_store_counts,
    file_origins,
    overlap_counts,
    raw_counts,
    reconcile,
)
from cardflow.quality.suites import suites_for
from cardflow.settings import Settings
from cardflow.transform.wap import (
    LAYER_SELECTION,
    LayerName,
    audit_settings,
    layer_models,
    layer_schemas,
    prepare_audit,
    publish,
)
from cardflow.warehouse.connection import WarehouseSession
from tasks.alerts import notify

logger = logging.getLogger(__name__)


# --- RAW checks ---------------------------------------------------------------------------------
def check_raw_events(settings: Settings, now: datetime | None = None) -> RawChecksReport:
    """Freshness and volume of RAW.EVENTS (verdicts only; see :func:`enforce_raw_checks`)."""
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        return run_raw_checks(warehouse, settings, now)


def enforce_raw_checks(report: RawChecksReport, settings: Settings) -> None:
    """Warn -> alert; error -> alert and raise.

    Raises:
        QualityGateFailed: gate ``raw_events`` with each error-level check, before anything is built.
    """
    if report.status == "warn":
        notify("quality_warning", "RAW.EVENTS: " + "; ".join(report.failures("warn")), settings)
    if report.status == "error":
        errors = report.failures("error")
        notify("quality_failure", "RAW.EVENTS: " + "; ".join(errors), settings)
        raise QualityGateFailed("raw_events", errors)


# --- reconciliation ------------------------------------------------------------------------------
def reconcile_raw(settings: Settings) -> ReconciliationReport:
    """Event store vs RAW.EVENTS per UTC day and event type, with real-time/backfill overlap."""
    backends = resolve_backends(settings, needs={"bronze", "warehouse"})
    store_counts = event_store_counts(settings)
    origins = file_origins(backends.store(), settings)
    with backends.open_session() as warehouse:
        return reconcile(
            store_counts, raw_counts(warehouse, settings), overlap_counts(warehouse, settings, origins)
        )


# --- build into the audit schema -----------------------------------------------------------------
def build_layer(layer: LayerName, settings: Settings, *, full_refresh: bool = False) -> dict[str, Any]:
    """Clone the published layer into its audit schema, then ``dbt build`` the layer there.

    Returns the dbt summary as a dict plus what the preparation did per model.

    Raises:
        TransformError: a model failed or an error-severity dbt test failed (nothing published).
    """
    from cardflow.transform.dbt import invoke_dbt

    backends = resolve_backends(settings, needs={"warehouse"})
    schemas = layer_schemas(settings, layer)
    models = layer_models(layer)
    with backends.open_session() as warehouse:  # closed before dbt opens the DuckDB file
        prepared = prepare_audit(warehouse, schemas, models, full_refresh=full_refresh)
    args = ["build", "--select", *LAYER_SELECTION[layer]]
    if full_refresh:
        args.append("--full-refresh")
    if settings.dbt_skip_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    summary = invoke_dbt(args, audit_settings(backends.settings, layer), backends.target)
    if summary.failed or not summary.success:
        listed = "\n".join(f"  - {n.describe()}" for n in summary.failed) or "  (no node reported a failure)"
        raise TransformError(
            f"dbt {' '.join(args)} of {layer} into {schemas.audit} failed: "
            f"{len(summary.failed)} node(s):\n{listed}\nNothing was published; {schemas.published} is "
            f"unchanged and {schemas.audit} holds the failed build."
        )
    return {"layer": layer, "audit_schema": schemas.audit, "prepared": prepared, "dbt": summary.as_dict()}


# --- gate ------------------------------------------------------------------------------------------
def gate_parameters(
    warehouse: WarehouseSession, layer: LayerName, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Values for the suites' ``$PARAMETER`` placeholders.

    silver: ``freshness_floor`` (now - RAW_EVENTS_FRESHNESS_ERROR_HOURS).
    gold: ``known_skus`` (the audited dim_card), and the published Silver event counts that bound
    Gold row counts (``silver_order_events``, ``silver_batch_events``, ``silver_catalog_events``).
    """
    now = now or datetime.now(UTC)
    if layer == "silver":
        return {"freshness_floor": now - timedelta(hours=settings.raw_events_freshness_error_hours)}
    silver = layer_schemas(settings, "silver").published
    gold_audit = layer_schemas(settings, "gold").audit
    prefix = f"{warehouse.database}." if warehouse.dialect == "snowflake" else ""

    def count(table: str) -> int:
        return int(warehouse.query(f"SELECT count(*) FROM {prefix}{silver}.{table}")[0][0])

    skus = [r[0] for r in warehouse.query(f"SELECT DISTINCT sku FROM {prefix}{gold_audit}.dim_card")]
    return {
        "known_skus": sorted(skus),
        "silver_order_events": count("stg_order_created"),
        "silver_batch_events": count("stg_manufacturing_batch"),
        "silver_catalog_events": count("stg_card_catalog_entry_inserted"),
    }


def gate_layer(layer: LayerName, settings: Settings, now: datetime | None = None) -> GateResult:
    """Validate the audit schema of ``layer`` with its suites and write Data Docs (never raises on
    failed expectations: see :func:`enforce_gate`)."""
    schemas = layer_schemas(settings, layer)
    specs = suites_for(layer)
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        parameters = gate_parameters(warehouse, layer, settings, now)
        result = validate_layer(
            warehouse,
            specs,
            schemas.audit,
            layer,
            parameters,
            chunk_rows=settings.quality_chunk_rows,
        )
    try:
        result.docs_index = write_data_docs(result, specs, settings.resolved_data_dir / "gx")
    except Exception as exc:  # docs are a report; a rendering problem must not decide the gate
        logger.warning("Data Docs for the %s gate not written: %s", layer, exc)
    return result


def enforce_gate(result: GateResult, settings: Settings) -> None:
    """Raise when the gate failed (after alerting); does nothing if it passed.

    Raises:
        QualityGateFailed: gate = the layer, failures = one line per failed expectation.
    """
    if result.success:
        return
    failures = result.failures()
    notify(
        "quality_failure",
        f"{result.gate} gate failed ({len(failures)}): " + "; ".join(failures[:5]),
        settings,
    )
    raise QualityGateFailed(result.gate, failures)


def publish_layer(layer: LayerName, settings: Settings) -> dict[str, str]:
    """Publish the audited layer (only ever called after its gate passed)."""
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        return publish(warehouse, layer_schemas(settings, layer), layer_models(layer), settings)


# --- Prefect tasks -------------------------------------------------------------------------------
@task(name="raw-events-checks")
def raw_events_checks_task(settings: Settings) -> RawChecksReport:
    """Freshness and volume of RAW.EVENTS; artifact always, alert on warn, raise on error."""
    report = check_raw_events(settings)
    create_markdown_artifact(
        key="raw-events-checks",
        markdown=report.to_markdown(),
        description=f"RAW.EVENTS freshness and volume: {report.status}",
    )
    enforce_raw_checks(report, settings)
    return report


@task(name="reconcile-raw")
def reconcile_raw_task(settings: Settings) -> ReconciliationReport:
    """Reconciliation artifact; a gap is a warning (alert), not a failure: RAW is still consistent."""
    report = reconcile_raw(settings)
    create_markdown_artifact(
        key="raw-reconciliation", markdown=report.to_markdown(), description=report.summary()
    )
    if report.gaps:
        notify("quality_warning", report.summary(), settings)
    return report


@task(name="build-layer-audit")
def build_layer_task(layer: LayerName, settings: Settings, full_refresh: bool = False) -> dict[str, Any]:
    return build_layer(layer, settings, full_refresh=full_refresh)


@task(name="quality-gate")
def gate_layer_task(layer: LayerName, settings: Settings) -> GateResult:
    """Run the layer's gate, publish its markdown artifact, raise if it failed."""
    result = gate_layer(layer, settings)
    create_markdown_artifact(
        key=f"quality-gate-{layer}",
        markdown=result.to_markdown(),
        description=f"Great Expectations gate {layer}: {'passed' if result.success else 'FAILED'}",
    )
    enforce_gate(result, settings)
    return result


@task(name="publish-layer")
def publish_layer_task(layer: LayerName, settings: Settings) -> dict[str, str]:
    return publish_layer(layer, settings)

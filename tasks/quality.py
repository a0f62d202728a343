"""Prefect tasks of the quality steps of ``dbt_transform_and_test``: RAW checks, audit builds, gates,
publishing.

Each task resolves its backends, calls the library step (:mod:`cardflow.quality.raw_checks`,
:mod:`cardflow.quality.reconcile`, :mod:`cardflow.transform.wap`, :mod:`cardflow.quality.gate`),
publishes the Prefect artifact and alerts; the library steps only return or raise. The order the
flow runs them in:

    raw_events_checks -> build_layer(silver) -> gate_layer(silver) -> publish_layer(silver)
                      -> build_layer(gold)   -> gate_layer(gold)   -> publish_layer(gold)

A failure at any step raises (QualityGateFailed / TransformError) before the next publish, so the
published schemas keep the last good state and the audit schemas keep what failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.links import site_key
from cardflow.quality.gate import gate_layer
from cardflow.quality.raw_checks import RawChecksReport, run_raw_checks
from cardflow.quality.reconcile import ReconciliationReport, reconcile_raw
from cardflow.quality.results import GateResult
from cardflow.settings import Settings
from cardflow.transform.wap import LayerName, build_layer, layer_schemas, publish_layer
from tasks.alerts import notify
from tasks.dbt import dbt_invoker
from tasks.report import artifact_link


# --- alerting glue -------------------------------------------------------------------------------
def enforce_raw_checks(report: RawChecksReport, settings: Settings) -> None:
    """Error -> alert and raise. Warnings are not alerted here: the transform flow gathers every
    warning of its run (:mod:`cardflow.quality.warnings`) and alerts once at the end.

    Raises:
        QualityGateFailed: gate ``raw_events`` with each error-level check, before anything is built.
    """
    if report.status == "error":
        notify("quality_failure", "RAW.EVENTS: " + "; ".join(report.failures("error")), settings)
    report.raise_on_errors()


def enforce_gate(result: GateResult, settings: Settings) -> None:
    """Alert and raise when the gate failed; does nothing if it passed.

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
    result.raise_if_failed()


# --- Prefect tasks -------------------------------------------------------------------------------
@task(name="raw-events-checks")
def raw_events_checks_task(settings: Settings) -> RawChecksReport:
    """Freshness and volume of RAW.EVENTS; artifact always, alert and raise on error (warnings: the flow)."""
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        report = run_raw_checks(warehouse, settings)
    create_markdown_artifact(
        key="raw-events-checks",
        markdown=report.to_markdown(),
        description=f"RAW.EVENTS freshness and volume: {report.status}",
    )
    enforce_raw_checks(report, settings)
    return report


@task(name="reconcile-raw")
def reconcile_raw_task(settings: Settings) -> ReconciliationReport:
    """Reconciliation artifact; a gap is a warning (the flow alerts it with the run's other
    warnings), not a failure: RAW is still consistent."""
    backends = resolve_backends(settings, needs={"bronze", "warehouse"})
    report = reconcile_raw(settings, backends.store(), backends.open_session)
    create_markdown_artifact(
        key="raw-reconciliation", markdown=report.to_markdown(), description=report.summary()
    )
    return report


@task(name="build-layer-audit")
def build_layer_task(layer: LayerName, settings: Settings, full_refresh: bool = False) -> dict[str, Any]:
    """dbt build of ``layer`` into its audit schema (raises TransformError: nothing published)."""
    backends = resolve_backends(settings, needs={"warehouse"})
    return build_layer(
        layer,
        backends.settings,
        backends.target,
        backends.open_session,
        full_refresh=full_refresh,
        invoker=dbt_invoker(settings),
    )


@task(name="quality-gate")
def gate_layer_task(layer: LayerName, settings: Settings) -> GateResult:
    """Run the layer's gate, publish its markdown artifact, alert and raise if it failed."""
    backends = resolve_backends(settings, needs={"warehouse"})
    result = gate_layer(
        backends.open_session,
        layer,
        settings,
        audit_schema=layer_schemas(settings, layer).audit,
        silver_schema=layer_schemas(settings, "silver").published,
        gold_audit_schema=layer_schemas(settings, "gold").audit,
    )
    if result.docs_index:  # Data Docs: a link that opens from the UI (bucket URL when S3 is configured)
        index = Path(result.docs_index)  # GX's site: index.html at the root of the site directory
        link = artifact_link(backends, index, site_key("data_docs", index.name), site_root=index.parent)
        result.docs_index = link.url
    create_markdown_artifact(
        key=f"quality-gate-{layer}",
        markdown=result.to_markdown(),
        description=f"Great Expectations gate {layer}: {'passed' if result.success else 'FAILED'}",
    )
    enforce_gate(result, settings)
    return result


@task(name="publish-layer")
def publish_layer_task(layer: LayerName, settings: Settings) -> dict[str, str]:
    """Publish the audited ``layer`` (the flow calls it only after the layer's gate passed)."""
    backends = resolve_backends(settings, needs={"warehouse"})
    return publish_layer(layer, backends.settings, backends.open_session)

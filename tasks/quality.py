"""Prefect tasks of the quality steps of ``dbt_transform_and_test``: RAW checks, audit builds, gates,
publishing.

Each task resolves its backends, calls the library step (:mod:`cardflow.quality.raw_checks`,
:mod:`cardflow.quality.reconcile`, :mod:`cardflow.transform.wap`, :mod:`cardflow.quality.gate`),
publishes the Prefect artifact and alerts; the library steps only return or raise. The order the
flow runs them in:

    raw_events_checks -> pending_build (nothing new: stop here)
                      -> build_layer(silver) -> gate_layer(silver)
                      -> build_layer(gold)   -> gate_layer(gold)   -> publish_layers(silver, gold)

A failure at any step raises (QualityGateFailed / TransformError) before the publish, so the
published schemas keep the last good state and the audit schemas keep what failed.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.quality.gate import gate_layer, gate_parameters
from cardflow.quality.holdback import HOLDS_TABLE, Hold, hold_offenders
from cardflow.quality.raw_checks import RawChecksReport, run_raw_checks
from cardflow.quality.reconcile import ReconciliationReport, reconcile_raw
from cardflow.quality.results import GateResult
from cardflow.quality.suites import EXPECTATIONS_DIR, suites_for
from cardflow.settings import Settings
from cardflow.transform.build_stamp import BuildStamp, PendingBuild, build_fingerprint, pending_build
from cardflow.transform.freshness import newest_event_at
from cardflow.transform.wap import LayerName, build_layer, current_audit_schemas, layer_schemas, publish_layers
from tasks.alerts import held_summary, notify
from tasks.dbt import dbt_invoker
from tasks.report import link_data_docs


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


def enforce_gate(result: GateResult, settings: Settings, holds: list[Hold] | None = None) -> None:
    """Alert (once, with what was held back) and raise when the gate failed; does nothing if it passed.

    Raises:
        QualityGateFailed: gate = the layer, failures = one line per failed expectation.
    """
    if result.success:
        return
    failures = result.failures()
    held = held_summary(result.gate, holds or [])
    notify(
        "quality_failure",
        f"{result.gate} gate failed ({len(failures)}): " + "; ".join(failures[:5]) + (f". {held}" if held else ""),
        settings,
    )
    result.raise_if_failed()


# --- Prefect tasks -------------------------------------------------------------------------------
@task(name="raw-events-checks")
def raw_events_checks_task(settings: Settings) -> RawChecksReport:
    """Freshness (``dbt source freshness``) and volume of RAW.EVENTS; artifact always, alert and raise
    on error (warnings go out once per run, from the flow)."""
    backends = resolve_backends(settings, needs={"warehouse"})
    newest = newest_event_at(backends.settings, backends.target)  # before the session: dbt opens the file
    with backends.open_session() as warehouse:
        report = run_raw_checks(warehouse, settings, newest_event_at=newest)
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
    create_markdown_artifact(key="raw-reconciliation", markdown=report.to_markdown(), description=report.summary())
    return report


@task(name="check-for-new-data")
def pending_build_task(settings: Settings, full_refresh: bool = False) -> PendingBuild:
    """Whether RAW, the held events or the project changed since the published build (a run with
    nothing new skips its builds, gates and publish)."""
    backends = resolve_backends(settings, needs={"warehouse"})
    fingerprint = build_fingerprint(backends.settings, extra_dirs=(EXPECTATIONS_DIR,))
    with backends.open_session() as warehouse:
        return pending_build(
            warehouse, backends.settings, fingerprint, full_refresh=full_refresh, held_table=HOLDS_TABLE
        )


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
    open_session = backends.open_session
    audits = current_audit_schemas(settings, open_session)
    result = gate_layer(
        open_session,
        layer,
        settings,
        audit_schema=audits[layer],
        silver_schema=audits["silver"],  # Gold was built from the audited Silver
        gold_audit_schema=audits["gold"],
        published_schema=layer_schemas(settings, layer).published,  # rows unchanged since are not re-checked
    )
    # Data Docs: a link artifact that opens from the UI (bucket URL when S3 is configured)
    result.docs_index = link_data_docs(layer, result.docs_index, backends) or result.docs_index
    create_markdown_artifact(
        key=f"quality-gate-{layer}",
        markdown=result.to_markdown(),
        description=f"Great Expectations gate {layer}: {'passed' if result.success else 'FAILED'}",
    )
    holds = hold_back_task(layer, result, settings, audits) if not result.success else []
    enforce_gate(result, settings, holds)
    return result


def hold_back_task(layer: LayerName, result: GateResult, settings: Settings, audits: dict[str, str]) -> list[Hold]:
    """Hold back the events behind the failed gate (docs/runbook.md: the next run publishes the rest).

    ``audits`` are the schemas the gate validated: Gold rows are traced back through the audited
    Silver they were built from, and the held events are removed from that audited Silver (the
    published layer never saw them: nothing is published after a failed gate).
    """
    backends = resolve_backends(settings, needs={"warehouse"})
    with backends.open_session() as warehouse:
        parameters = gate_parameters(
            warehouse, layer, settings, silver_schema=audits["silver"], gold_audit_schema=audits["gold"]
        )
        return hold_offenders(
            warehouse,
            result,
            suites_for(layer),
            parameters,
            raw_schema=settings.snowflake_raw_schema,
            audit_schema=audits[layer],
            silver_schema=audits["silver"],
        )


@task(name="publish-layers")
def publish_layers_task(
    layers: list[LayerName], settings: Settings, stamp: BuildStamp | None = None
) -> dict[str, dict[str, str]]:
    """Publish the audited ``layers`` together (the flow calls it only after every gate passed),
    recording ``stamp``, what their build read."""
    backends = resolve_backends(settings, needs={"warehouse"})
    return publish_layers(layers, backends.settings, backends.open_session, stamp)

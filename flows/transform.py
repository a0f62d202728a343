"""Flow ``dbt_transform_and_test``: RAW.EVENTS -> Silver -> Gold, gated, write-audit-publish.

Reads like its table of contents:

1. freshness and volume of RAW.EVENTS (warn: noted; error: alert, the flow fails, nothing built)
   and whether anything changed since the published build: with nothing new (same RAW rows, held
   events and project), steps 2-4 are skipped (:mod:`cardflow.transform.build_stamp`)
2. build Silver with dbt into its audit schema (only what changed), gate it
3. build Gold into its audit schema (reading the audited Silver), gate it
4. publish Silver and Gold together (DuckDB: every view repointed in one transaction)
5. every warning of the run (RAW checks, warn-severity dbt tests, expectations passing only by their
   ``mostly``, reconciliation gaps) goes out as ONE alert, and the recorded quality status says
   "passed with warnings" and lists them

A failed build or gate stops the flow before the publish: analysts keep the last good layers, the
audit schema keeps what failed, and the gate's artifact names each failed expectation.
A run holds a slot of the ``warehouse`` limit (:mod:`tasks.limits`) from start to end, so a manual
transform during a pipeline run waits for it instead of rebuilding the same audit tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.assets import Asset

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import QualityGateFailed, ReportError
from cardflow.quality.warnings import (
    FAILED,
    QualityWarning,
    dbt_warnings,
    gate_warnings,
    raw_check_warnings,
    reconciliation_warnings,
    verdict,
)
from cardflow.settings import Settings, get_settings
from cardflow.transform.build_stamp import PendingBuild
from cardflow.transform.wap import layer_schemas
from tasks.alerts import alert_on_failure, notify_quality_warnings
from tasks.assets import record_layer
from tasks.limits import holds_warehouse_slot
from tasks.quality import (
    build_layer_task,
    gate_layer_task,
    pending_build_task,
    publish_layers_task,
    raw_events_checks_task,
    reconcile_raw_task,
)
from tasks.report import publish_report as publish_report_task
from tasks.report import record_quality
from tasks.run_names import transform_run_name


@dataclass(frozen=True)
class TransformResult:
    """Counts of a transform run (JSON-friendly through :meth:`as_dict`)."""

    target: str
    full_refresh: bool
    raw_checks: dict[str, str]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    reconciliation_gaps: int | None = None
    warnings: list[str] = field(default_factory=list)
    build_reasons: list[str] = field(default_factory=list)
    """Why the layers were built; empty: nothing new since the published build, nothing built."""

    @property
    def built(self) -> bool:
        return bool(self.build_reasons)

    @property
    def status(self) -> str:
        """``passed`` or ``passed with warnings`` (a failed run raises instead of returning)."""
        return verdict(self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "full_refresh": self.full_refresh,
            "status": self.status,
            "raw_checks": self.raw_checks,
            "layers": self.layers,
            "reconciliation_gaps": self.reconciliation_gaps,
            "warnings": self.warnings,
            "built": self.built,
            "build_reasons": self.build_reasons,
        }

    def to_markdown(self) -> str:
        lines = [
            "# dbt_transform_and_test",
            "",
            f"Target `{self.target}`, full refresh: {self.full_refresh}.",
            "",
            "RAW checks: " + ", ".join(f"{k} {v}" for k, v in self.raw_checks.items()),
            "",
            "Built because: " + "; ".join(self.build_reasons)
            if self.built
            else "Nothing new since the published build (same RAW rows, held events and project): "
            "builds, gates and publish skipped; the published layers stand.",
            "",
            "| layer | dbt nodes | gate expectations | rows gated | published |",
            "|---|---|---:|---:|---|",
        ]
        for name, layer in self.layers.items():
            lines.append(
                f"| {name} | {layer['dbt_counts']} | {layer['expectations']} | {layer['rows']:,} | "
                f"{', '.join(layer['published'])} |"
            )
        for name, layer in self.layers.items():
            lines += ["", f"## {name}: dbt {layer['dbt_seconds']:.1f} s, every node, slowest first", ""]
            lines += _node_table(layer["dbt_nodes"])
        warnings = [w for layer in self.layers.values() for w in layer["dbt_warnings"]]
        lines += ["", f"## dbt warnings ({len(warnings)})", ""]
        lines += [f"- {w}" for w in warnings] or ["none"]
        lines += ["", f"## Quality: {self.status} ({len(self.warnings)} warnings, alerted once)", ""]
        lines += [f"- {w}" for w in self.warnings] or ["none"]
        return "\n".join(lines) + "\n"


def _node_table(nodes: list[dict[str, Any]]) -> list[str]:
    """Markdown rows of a layer build's dbt nodes (``DbtRunSummary.node_rows``)."""
    if not nodes:
        return ["none"]
    rows = ["| node | status | seconds | failing rows |", "|---|---|---:|---:|"]
    rows += [
        f"| {n['type']} {n['name']} | {n['status']} | {n['seconds']:.2f} | "
        f"{'' if n['failures'] is None else n['failures']} |"
        for n in nodes
    ]
    return rows


def _build_and_gate(
    layer: str, settings: Settings, full_refresh: bool, warnings: list[QualityWarning]
) -> dict[str, Any]:
    """Write and audit one layer: build into its audit schema, gate it (raises if it fails).

    Appends the layer's warnings (warn-severity dbt nodes, expectations passing by ``mostly``) to
    ``warnings`` as soon as each step knows them, so a later failure still records them.
    """
    build = build_layer_task(layer, settings, full_refresh)
    warnings += dbt_warnings(layer, build["dbt"]["warnings"])
    gate = gate_layer_task(layer, settings)
    warnings += gate_warnings(gate)
    return {
        "dbt_counts": build["dbt"]["counts"],
        "dbt_warnings": build["dbt"]["warnings"],
        "dbt_seconds": build["dbt"]["elapsed_seconds"],
        "dbt_nodes": build["dbt"]["nodes"],
        "expectations": sum(len(m.outcomes) for m in gate.models),
        "rows": sum(max(m.rows, 0) for m in gate.models),
        "gate_seconds": round(gate.seconds, 2),
        "published": [],
        "rows_by_model": {m.model: m.rows for m in gate.models if m.rows >= 0},
    }


def _build_gate_publish(
    settings: Settings, full_refresh: bool, warnings: list[QualityWarning], pending: PendingBuild
) -> dict[str, dict[str, Any]]:
    """Build and gate Silver, then Gold, then publish both, recording what the build read."""
    log = get_run_logger()
    layers: dict[str, dict[str, Any]] = {}
    for layer in ("silver", "gold"):
        layers[layer] = _build_and_gate(layer, settings, full_refresh, warnings)
        log.info("%s built and gated (%d expectations)", layer, layers[layer]["expectations"])
    published = publish_layers_task(list(layers), settings, pending.stamp)
    upstream: list[Asset] | None = None  # Silver is read from RAW.EVENTS, Gold from the Silver it published with
    for layer, models in published.items():
        layers[layer]["published"] = sorted(models)
        assets = record_layer(
            settings,
            layer,
            layer_schemas(settings, layer).published,  # type: ignore[arg-type]
            models,
            layers[layer].pop("rows_by_model"),
            upstream,
        )
        layers[layer]["assets"] = [a.key for a in assets]
        upstream = assets
    log.info("published %s", ", ".join(f"{k}: {len(v)} models" for k, v in published.items()))
    return layers


@flow(
    name="dbt_transform_and_test",
    flow_run_name=transform_run_name,
    log_prints=False,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
@holds_warehouse_slot("dbt_transform_and_test")
def dbt_transform_and_test(
    full_refresh: bool = False, reconcile: bool = False, settings: Settings | None = None
) -> TransformResult:
    """Check RAW, then build, gate and publish Silver and then Gold.

    Args:
        full_refresh: rebuild the incremental models from all of RAW.EVENTS (in the audit schemas).
        reconcile: also compare distinct events per day and type with the event store (artifact;
            gaps alert as warnings).
        settings: cardflow settings (warehouse, dbt target, thresholds); default: the environment.

    Returns:
        RAW check verdicts and, per layer, dbt node counts, gate counts and the published models.

    Raises:
        QualityGateFailed: RAW checks (gate ``raw_events``) or a layer's gate failed; nothing of that
            layer (or later ones) was published.
        TransformError: dbt failed while building a layer into its audit schema.
    """
    settings = settings or get_settings()
    # the warehouse (and Bronze for reconciliation), checked before anything is built
    resolve_backends(settings, needs={"warehouse", "bronze"} if reconcile else {"warehouse"})
    log = get_run_logger()
    warnings: list[QualityWarning] = []
    try:
        raw = raw_events_checks_task(settings)
        warnings += raw_check_warnings(raw)
        gaps = None
        if reconcile:
            reconciliation = reconcile_raw_task(settings)
            warnings += reconciliation_warnings(reconciliation)
            gaps = len(reconciliation.gaps)
        pending = pending_build_task(settings, full_refresh)
        layers = _build_gate_publish(settings, full_refresh, warnings, pending) if pending.reasons else {}
    except QualityGateFailed as exc:
        gate = {"gate": exc.gate, "status": "failed", "detail": "; ".join(exc.failures)}
        record_quality(FAILED, str(exc), [gate], settings=settings, warnings=[w.line() for w in warnings])
        raise
    result = TransformResult(
        settings.resolved_dbt_target,
        full_refresh,
        {o.check: o.status for o in raw.outcomes},
        layers,
        gaps,
        [w.line() for w in warnings],
        pending.reasons,
    )
    notify_quality_warnings(warnings, settings)  # one alert for the whole run, not one per test
    unchanged = {"gate": "silver+gold", "status": "unchanged", "detail": "nothing new since the gated publish"}
    record_quality(
        result.status,
        ("all gates passed" if result.built else "nothing new; the published layers passed their gates")
        + (f"; {len(warnings)} warnings" if warnings else ""),
        [
            *({"gate": f"raw_events.{k}", "status": v, "detail": ""} for k, v in result.raw_checks.items()),
            *(
                {"gate": name, "status": "passed", "detail": f"{layer['expectations']} expectations"}
                for name, layer in layers.items()
            ),
            *([] if result.built else [unchanged]),
        ],
        settings=settings,
        warnings=result.warnings,
    )
    try:
        publish_report_task(settings=settings)
    except ReportError as exc:  # the report is a view of Gold: never fail a published build for it
        log.warning("Gold report not written: %s", exc)
    create_markdown_artifact(
        key="dbt-transform",
        markdown=result.to_markdown(),
        description="RAW checks, audit builds, gates and publishes of this run",
    )
    return result

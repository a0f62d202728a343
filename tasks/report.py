"""Task: render the Gold report (``cardflow.reporting.report``) and link it as a Prefect artifact.

The transform flow calls :func:`publish_report` after Gold is built and gated, so every run's page
in the Prefect UI links to the HTML file it produced. ``cardflow demo`` calls
:func:`cardflow.reporting.report.write_report` directly (no flow run around it).
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.reporting.report import write_report
from cardflow.settings import Settings, get_settings

REPORT_ARTIFACT_KEY = "gold-report"


@task(name="publish_gold_report", retries=0)
def publish_report(output: str | None = None, settings: Settings | None = None) -> str:
    """Write the report (default ``<CARDFLOW_DATA_DIR>/report/index.html``) and link it as an artifact.

    Returns:
        The report's ``file://`` URI.

    Raises:
        ReportError: Gold is missing or a report query failed.
    """
    settings = settings or get_settings()
    backends = resolve_backends(settings, needs={"warehouse"})
    path = write_report(backends.settings, backends.target, Path(output) if output else None)
    uri = path.as_uri()
    create_link_artifact(
        key=REPORT_ARTIFACT_KEY,
        link=uri,
        link_text=f"Gold report: {path.name}",
        description="The Gold layer at a glance (self-contained HTML; open it in a browser)",
    )
    get_run_logger().info("Gold report linked as artifact %r: %s", REPORT_ARTIFACT_KEY, uri)
    return uri


@task(name="record_quality_status", retries=0)
def record_quality(
    status: str,
    detail: str,
    gates: list[dict],
    settings: Settings | None = None,
    warnings: list[str] | None = None,
) -> str:
    """Record this run's gate verdict and warnings where the report reads them
    (``<data dir>/quality/latest.json``)."""
    from cardflow.reporting.report import record_quality_status

    return str(record_quality_status(settings or get_settings(), status, detail, gates, warnings=warnings))

"""Task: render the Gold report (``cardflow.reporting.report``) and link it as a Prefect artifact.

The transform flow calls :func:`publish_report` after Gold is built and gated, so every run's page
in the Prefect UI links to the report it produced: with S3 configured the report is uploaded to the
Bronze bucket and linked by a presigned URL (:func:`artifact_link`), on the embedded setup by its
local path. ``cardflow demo`` calls
:func:`cardflow.reporting.report.write_report` directly (no flow run around it).
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact

from cardflow.backends.chooser import Backends, resolve_backends
from cardflow.bronze.links import UiLink, site_key, ui_link
from cardflow.reporting.report import write_report
from cardflow.settings import Settings, get_settings

REPORT_ARTIFACT_KEY = "gold-report"


@task(name="publish_gold_report", retries=0)
def publish_report(output: str | None = None, settings: Settings | None = None) -> str:
    """Write the report (default ``<CARDFLOW_DATA_DIR>/report/index.html``) and link it as an artifact.

    Returns:
        The link of the artifact: a presigned URL of the uploaded report when S3 is configured,
        else the report's ``file://`` URI.

    Raises:
        ReportError: Gold is missing or a report query failed.
    """
    settings = settings or get_settings()
    backends = resolve_backends(settings, needs={"warehouse"})
    path = write_report(backends.settings, backends.target, Path(output) if output else None)
    link = artifact_link(backends, path, site_key("report", path.name))
    create_link_artifact(
        key=REPORT_ARTIFACT_KEY,
        link=link.url,
        link_text=f"Gold report: {path.name}",
        description=f"The Gold layer at a glance (self-contained HTML): {link.describe()}",
    )
    get_run_logger().info("Gold report linked as artifact %r: %s", REPORT_ARTIFACT_KEY, link.location)
    return link.url


def artifact_link(backends: Backends, local: Path, key: str, *, site_root: Path | None = None) -> UiLink:
    """The link an artifact should carry for ``local`` (see :func:`cardflow.bronze.links.ui_link`).

    Never raises: when the upload fails the local path is linked and the reason logged, because a
    link must not fail a run that built and published its data.
    """
    try:
        return ui_link(backends.store(), local, key, site_root=site_root)
    except Exception as exc:  # boto/botocore raise many types; the run's data is already published
        get_run_logger().warning(
            "could not publish %s to the Bronze bucket (%s); linking the local file", local.name, exc
        )
        return UiLink(local.resolve().as_uri(), "file")


def link_data_docs(gate: str, docs_index: str | None, backends: Backends) -> str | None:
    """Link a gate's Great Expectations Data Docs page from the current run (``data-docs-<gate>``).

    The link's form comes from :func:`artifact_link`: the page uploaded to the Bronze bucket
    (presigned URL) when S3 is configured, else the static site's ``file://`` URI. Does nothing
    (returns None) when the gate wrote no docs; must run inside a flow or task run.
    """
    if not docs_index:
        return None
    index = Path(docs_index)  # GX's site: index.html at the root of the site directory
    link = artifact_link(backends, index, site_key("data_docs", index.name), site_root=index.parent)
    create_link_artifact(
        key=f"data-docs-{gate}",
        link=link.url,
        link_text=f"Data Docs: {gate} gate",
        description=f"Great Expectations Data Docs of the {gate} gate (every expectation, observed values): "
        f"{link.describe()}",
    )
    return link.url


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

"""Flow ``dbt_transform_and_test``: RAW.EVENTS -> Silver -> Gold with dbt, tested on the way.

Reads like its table of contents: check RAW freshness, build (models, unit tests and data tests in
DAG order; each dbt node a Prefect task run), publish an artifact with counts and warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from cardflow.settings import Settings, get_settings
from tasks.dbt import dbt_build, dbt_source_freshness, summary_markdown


@dataclass(frozen=True)
class TransformResult:
    """Counts of a transform run (JSON-friendly through :meth:`as_dict`)."""

    target: str
    full_refresh: bool
    freshness: dict[str, Any]
    build: dict[str, Any]

    @property
    def warnings(self) -> int:
        return len(self.freshness["warnings"]) + len(self.build["warnings"])

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "full_refresh": self.full_refresh, "freshness": self.freshness,
                "build": self.build, "warnings": self.warnings}


@flow(name="dbt_transform_and_test", log_prints=False)
def dbt_transform_and_test(full_refresh: bool = False, settings: Settings | None = None) -> TransformResult:
    """Build Silver and Gold with dbt and run every dbt test.

    Args:
        full_refresh: rebuild the incremental models from all of RAW.EVENTS.
        settings: cardflow settings (warehouse, dbt target, thresholds); default: the environment.

    Returns:
        Counts per node status for the freshness check and the build, and the warnings.

    Raises:
        QualityGateFailed: RAW.EVENTS is staler than RAW_EVENTS_FRESHNESS_ERROR_HOURS (nothing built).
        TransformError: a model failed or an error-severity test failed; the message lists the nodes.
    """
    settings = settings or get_settings()
    log = get_run_logger()
    freshness = dbt_source_freshness(settings)
    build = dbt_build(settings, full_refresh=full_refresh)
    create_markdown_artifact(
        key="dbt-transform", markdown=summary_markdown(freshness, build),
        description="dbt source freshness and build: counts per status and warnings",
    )
    result = TransformResult(settings.resolved_dbt_target, full_refresh, freshness.as_dict(), build.as_dict())
    log.info("dbt build on %s: %s, %d warnings", result.target, build.counts, result.warnings)
    return result

"""``medallion_pipeline``: the whole batch path, event store → Bronze → RAW → Silver → Gold.

Reads like the pipeline's table of contents: each stage is its own flow (a subflow here), so it
can also be deployed and run alone.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from cardflow.settings import Settings, get_settings
from flows.backfill import events_backfill_to_s3
from flows.load import s3_to_snowflake_load_raw
from flows.transform import dbt_transform_and_test


@flow(name="medallion_pipeline", log_prints=False)
def medallion_pipeline(full_refresh: bool = False, settings: Settings | None = None) -> dict[str, Any]:
    """Backfill new events to Bronze, load new Bronze files into RAW, build and gate Silver and Gold.

    Args:
        full_refresh: rebuild the dbt models from scratch (backfill and load stay incremental: they
            are idempotent by construction).
        settings: configuration; defaults to the environment.

    Returns:
        The three stage results, keyed by stage.
    """
    settings = settings or get_settings()
    logger = get_run_logger()
    backfill = events_backfill_to_s3(settings=settings)
    load = s3_to_snowflake_load_raw(settings=settings)
    transform = dbt_transform_and_test(full_refresh=full_refresh, settings=settings)
    result = {"backfill": _as_dict(backfill), "load": _as_dict(load), "transform": _as_dict(transform)}
    logger.info("medallion_pipeline done: %s", result)
    create_markdown_artifact(
        key="medallion-pipeline",
        markdown=_summary_markdown(result),
        description="What each stage of the medallion pipeline did in this run",
    )
    return result


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    if hasattr(result, "as_dict"):
        return result.as_dict()
    from dataclasses import asdict, is_dataclass

    return asdict(result) if is_dataclass(result) else {"result": result}


def _summary_markdown(result: dict[str, dict[str, Any]]) -> str:
    lines = ["# medallion_pipeline", ""]
    for stage, values in result.items():
        lines += [f"## {stage}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in values.items() if not isinstance(v, list | dict)]
        lines.append("")
    return "\n".join(lines)

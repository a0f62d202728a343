"""``medallion_pipeline``: the whole batch path, event store → Bronze → RAW → Silver → Gold.

Reads like the pipeline's table of contents: each stage is its own flow (a subflow here), so it
can also be deployed and run alone. Around the stages:

* the warehouse stages (load, transform) each hold one slot of the Prefect global concurrency
  limit ``warehouse`` while they run, so two pipelines (or a pipeline and an ad hoc load or
  transform) never write the warehouse at once (DuckDB allows one writer; on Snowflake it keeps
  loads ordered). The pipeline owns the slot around each stage; the stage subflows, which take
  it themselves when run alone, see it held and do not take a second one (:mod:`tasks.limits`),
  so the pipeline cannot deadlock on itself. On a Prefect server a missing limit fails the run
  naming ``cardflow limits``; on the ephemeral API (the demo) Prefect only warns.
* a stage that fails for a transient reason (network, throttling, a locked file) is retried
  with exponential backoff; data errors (contract, quality gate, dbt) fail at once
  (:mod:`cardflow.retry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.retry import call_with_retries
from cardflow.settings import Settings, get_settings
from flows.backfill import events_backfill_to_s3
from flows.load import s3_to_snowflake_load_raw
from flows.transform import dbt_transform_and_test
from tasks.alerts import alert_on_failure
from tasks.limits import warehouse_slot
from tasks.run_names import pipeline_run_name

MAX_MANIFEST_PARAMETERS = 1000
"""More manifests than this (a long first backfill: one per chunk) are found by the load cursor
instead of being passed as a run parameter."""


@flow(
    name="medallion_pipeline",
    flow_run_name=pipeline_run_name,
    log_prints=False,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def medallion_pipeline(
    full_refresh: bool = False,
    retries: int = 2,
    retry_delay_seconds: float = 30.0,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Backfill new events to Bronze, load new Bronze files into RAW, build and gate Silver and Gold.

    Args:
        full_refresh: rebuild the dbt models from scratch (backfill and load stay incremental: they
            are idempotent by construction).
        retries: how many times a stage is retried after a transient failure (0 disables).
        retry_delay_seconds: the first backoff delay; it doubles per retry (with jitter).
        settings: configuration; defaults to the environment.

    Returns:
        The three stage results, keyed by stage.
    """
    # Stages get the caller's own settings object, or None so that each resolves the environment
    # itself: a run's stored parameters then hold no configuration (secrets would be masked, and
    # a masked copy could not be re-run).
    given = settings
    settings = settings or get_settings()
    # every stage's configuration, checked before the backfill moves anything (all missing names at once)
    resolve_backends(settings, needs={"bronze", "warehouse", "load"})
    logger = get_run_logger()

    def stage(name: str, fn: Callable[..., Any], *, warehouse: bool, **kwargs: Any) -> dict[str, Any]:
        def attempt() -> Any:
            if not warehouse:
                return fn(settings=given, **kwargs)
            with warehouse_slot(f"medallion_pipeline stage {name}"):
                return fn(settings=given, **kwargs)

        logger.info("stage %s starting", name, extra={"cardflow_stage": name})  # a line on the CLI
        return _as_dict(call_with_retries(attempt, retries=retries, base_delay_seconds=retry_delay_seconds, label=name))

    backfill = stage("backfill", events_backfill_to_s3, warehouse=False)
    # the load reads the manifests this backfill wrote (no listing); without them (nothing new was
    # landed, or more than a run parameter should carry) it falls back to the load cursor, which
    # also picks up real-time landings
    manifests = backfill.get("manifest_keys") or []
    chosen = {"manifest_keys": manifests} if 0 < len(manifests) <= MAX_MANIFEST_PARAMETERS else {}
    result = {
        "backfill": backfill,
        "load": stage("load", s3_to_snowflake_load_raw, warehouse=True, **chosen),
        "transform": stage("transform", dbt_transform_and_test, warehouse=True, full_refresh=full_refresh),
    }
    logger.info("medallion_pipeline done: %s", {k: _scalars(v) for k, v in result.items()})
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
    return asdict(result) if is_dataclass(result) and not isinstance(result, type) else {"result": result}


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not isinstance(v, list | dict)}


def _summary_markdown(result: dict[str, dict[str, Any]]) -> str:
    lines = ["# medallion_pipeline", ""]
    for stage, values in result.items():
        lines += [f"## {stage}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in _scalars(values).items()]
        lines.append("")
    return "\n".join(lines)

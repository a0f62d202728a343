"""Prefect tasks of the backfill (event store -> Bronze): thin wrappers over
:mod:`cardflow.sources.eventstore` (plan, landing, finish), which tests, the CLI and the benchmark
call directly (:func:`cardflow.sources.eventstore.backfill.run_backfill`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prefect import task
from prefect.cache_policies import NONE

from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.sources.eventstore.finish import BackfillResult, finish_backfill
from cardflow.sources.eventstore.landing import ChunksLanded, land_chunks
from cardflow.sources.eventstore.plan import BackfillPlan, plan_backfill
from cardflow.sources.eventstore.slices import BackfillUnit, commit_finished_units, land_unit


@task(name="plan-backfill", cache_policy=NONE)
def plan_backfill_task(
    settings: Settings,
    store: BronzeStore,
    start: datetime | None = None,
    end: datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
) -> BackfillPlan:
    """Prefect task around :func:`plan_backfill`."""
    return plan_backfill(
        settings, store, start=start, end=end, full_refresh=full_refresh, chunk_size=chunk_size
    )


@task(name="land-backfill-chunks", cache_policy=NONE)
def land_chunks_task(plan: BackfillPlan, settings: Settings, store: BronzeStore) -> ChunksLanded:
    """Prefect task around :func:`land_chunks` (no automatic retry: re-running the flow resumes
    from the committed watermark, and re-running the same range is safe)."""
    return land_chunks(plan, settings, store)


@task(name="finish-backfill", cache_policy=NONE)
def finish_backfill_task(
    plan: BackfillPlan, landed: ChunksLanded, settings: Settings, store: BronzeStore
) -> BackfillResult:
    """Prefect task around :func:`finish_backfill`."""
    return finish_backfill(plan, landed, settings, store)


@task(name="land-backfill-unit", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def land_unit_task(
    plan: BackfillPlan, unit: BackfillUnit, settings: Settings, store: BronzeStore
) -> ChunksLanded:
    """Prefect task around :func:`land_unit`: one time slice of a fanned-out run. Retried alone on
    failure (the unit is idempotent: a retry writes only what the failed attempt did not)."""
    return land_unit(plan, unit, settings, store)


@task(name="commit-backfill-units", cache_policy=NONE)
def commit_units_task(
    plan: BackfillPlan,
    units: list[BackfillUnit],
    finished: Mapping[int, ChunksLanded],
    committed: int,
    store: BronzeStore,
) -> int:
    """Prefect task around :func:`commit_finished_units` (the watermark over finished units)."""
    return commit_finished_units(plan, units, finished, committed, store)

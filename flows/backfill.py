"""Flow ``events_backfill_to_s3``: the Postgres event store -> Bronze, incremental and idempotent.

The flow is the table of contents; the behaviour lives in :mod:`cardflow.sources.eventstore.backfill`
(and the modules it composes: extract, partitions, quarantine, inventory, uploads, watermark, manifest).

Late-arriving rows: a **lookback window** (``CARDFLOW_BACKFILL_LOOKBACK_MINUTES``, default 60).
Each incremental run re-reads the rows from ``watermark - lookback`` on and writes only those Bronze
does not hold yet, so a row committed late with an ``inserted_at`` up to the window behind the
watermark lands in the next run. The event store has no commit-ordered sequence column to key on
(``inserted_at`` is set by the producer), so the window must exceed the longest delay between a
row's ``inserted_at`` and its commit; anything older is recovered by an explicit ``start``/``end``
run, which is always safe to repeat.

Byte-identical re-runs: ``ingested_at`` is the run's start time, written once per row and never
rewritten. A re-run (incremental, ``full_refresh`` or the same range) reads what Bronze already
holds for the partition-hours it touches and writes only missing rows, so existing objects keep
their bytes and no new object appears for data already landed. Part keys derive from the event
ids a part holds (in event_id order), so the same missing rows always get the same key. Deriving
``ingested_at`` from the data instead would make it lie about when we landed the row, which the
freshness checks rely on. See docs/backfill.md.

Scale-out: with ``slices > 1`` the planned range is cut at whole hours into independent,
idempotent units (:mod:`cardflow.sources.eventstore.slices`) that run as Prefect tasks on the
flow's task runner, at most ``workers`` at a time (threads by default; give the flow a
``DaskTaskRunner`` with ``events_backfill_to_s3.with_options(task_runner=...)`` to spread them over
machines). A failed unit is retried alone (task retries); the watermark moves only over the
contiguous run of finished units. See docs/scaling.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.futures import PrefectFuture, as_completed

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.store import BronzeStore
from cardflow.contract import parse_timestamp
from cardflow.settings import Settings, get_settings
from cardflow.sources.eventstore.landing import ChunksLanded
from cardflow.sources.eventstore.plan import BackfillPlan
from cardflow.sources.eventstore.slices import BackfillUnit, merge_landed, split_plan
from tasks.alerts import alert_on_failure
from tasks.assets import record_bronze_landing
from tasks.backfill import (
    commit_units_task,
    finish_backfill_task,
    land_chunks_task,
    land_unit_task,
    plan_backfill_task,
)
from tasks.limits import holds_backfill_slot
from tasks.run_names import backfill_run_name


def _when(value: str | datetime | None, name: str) -> datetime | None:
    return None if value in (None, "") else parse_timestamp(value, field=name)


@flow(
    name="events-backfill-to-s3",
    flow_run_name=backfill_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
@holds_backfill_slot
def events_backfill_to_s3(
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
    slices: int = 1,
    workers: int = 2,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Backfill the event store into Bronze; each committed chunk writes its own manifest.

    Args:
        start: only rows with ``inserted_at >= start`` (ISO-8601); with ``end``, a repair run of an
            explicit range that does not move the watermark.
        end: only rows with ``inserted_at < end``.
        full_refresh: re-read everything from the beginning (writes only what Bronze lacks).
        chunk_size: rows per committed chunk (default ``CARDFLOW_BACKFILL_CHUNK_SIZE``).
        slices: cut the range at whole hours into this many units run as parallel tasks (1: one
            unit that commits chunk by chunk).
        workers: units running at once when ``slices > 1``.
        settings: cardflow settings; defaults to :func:`get_settings`.

    Returns:
        Counts (rows read/written/already in Bronze, quarantined, objects written), the manifest
        keys (one per chunk that listed an object; ``manifest_key`` is the last) and the watermark
        before and after.

    Raises:
        EventStoreError, StorageError: the run stopped; committed chunks stay committed and the
            next run carries on from the watermark.
    """
    settings = settings or get_settings()
    store = resolve_backends(settings, needs={"bronze"}).store()  # fails here, before anything is read
    plan = plan_backfill_task(
        settings,
        store,
        start=_when(start, "start"),
        end=_when(end, "end"),
        full_refresh=full_refresh,
        chunk_size=chunk_size,
    )
    if slices > 1:
        landed = _land_units(plan, split_plan(plan, slices), max(1, workers), settings, store)
    else:
        landed = land_chunks_task(plan, settings, store)
    result = finish_backfill_task(plan, landed, settings, store)
    record_bronze_landing(
        settings,
        store.uri(settings.s3_prefix),
        {k: getattr(result, k) for k in ("rows_read", "rows_written", "objects_written", "quarantined")},
        realtime=False,
    )
    before, after = result.watermark_before or {}, result.watermark_after or {}
    create_table_artifact(
        key="events-backfill-to-s3",
        table=[
            {
                "run_id": result.run_id,
                "mode": result.mode,
                "rows_read": result.rows_read,
                "rows_written": result.rows_written,
                "rows_already_in_bronze": result.rows_already_in_bronze,
                "objects_written": result.objects_written,
                "quarantined": result.quarantined,
                "watermark_before": before.get("inserted_at", "none"),
                "watermark_after": after.get("inserted_at", "none"),
                "manifests": len(result.manifest_keys),
                "last_manifest": result.manifest_key,
            }
        ],
        description=(
            f"Backfill {result.run_id} ({result.mode}): {result.rows_read} rows read, "
            f"{result.objects_written} objects written, {result.quarantined} quarantined"
        ),
    )
    return result.as_dict()


def _land_units(
    plan: BackfillPlan, units: list[BackfillUnit], workers: int, settings: Settings, store: BronzeStore
) -> ChunksLanded:
    """Run the units as tasks, ``workers`` at a time; commit the watermark as they finish.

    A unit that still fails after its retries stops new submissions; the running ones finish and
    are committed as far as the run of finished units reaches, then the failure is raised.
    """
    waiting = list(units)
    running: dict[PrefectFuture[ChunksLanded], BackfillUnit] = {}
    finished: dict[int, ChunksLanded] = {}
    committed = 0
    error: BaseException | None = None
    while waiting or running:
        while waiting and len(running) < workers and error is None:
            unit = waiting.pop(0)
            running[land_unit_task.submit(plan, unit, settings, store)] = unit
        if not running:
            break
        future = next(iter(as_completed(list(running))))
        unit = running.pop(future)
        try:
            finished[unit.index] = future.result()
        except Exception as exc:
            error = error or exc
            continue
        waiting_to_commit = {i: landed for i, landed in finished.items() if i >= committed}
        committed = commit_units_task(plan, units, waiting_to_commit, committed, store)
    if error is not None:
        raise error
    return merge_landed([finished[u.index] for u in units])

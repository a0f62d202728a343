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
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.contract import parse_timestamp
from cardflow.settings import Settings, get_settings
from tasks.alerts import alert_on_failure
from tasks.assets import record_bronze_landing
from tasks.backfill import finish_backfill_task, land_chunks_task, plan_backfill_task
from tasks.run_names import backfill_run_name


def _when(value: str | datetime | None, name: str) -> datetime | None:
    return None if value in (None, "") else parse_timestamp(value, field=name)


@flow(
    name="events-backfill-to-s3",
    flow_run_name=backfill_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def events_backfill_to_s3(
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Backfill the event store into Bronze and write the run manifest.

    Args:
        start: only rows with ``inserted_at >= start`` (ISO-8601); with ``end``, a repair run of an
            explicit range that does not move the watermark.
        end: only rows with ``inserted_at < end``.
        full_refresh: re-read everything from the beginning (writes only what Bronze lacks).
        chunk_size: rows per committed chunk (default ``CARDFLOW_BACKFILL_CHUNK_SIZE``).
        settings: cardflow settings; defaults to :func:`get_settings`.

    Returns:
        Counts (rows read/written/already in Bronze, quarantined, objects written), the manifest
        key and the watermark before and after.

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
                "manifest": result.manifest_key,
            }
        ],
        description=(
            f"Backfill {result.run_id} ({result.mode}): {result.rows_read} rows read, "
            f"{result.objects_written} objects written, {result.quarantined} quarantined"
        ),
    )
    return result.as_dict()

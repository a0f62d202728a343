"""One backfill run end to end: plan it, land its chunks, finish it (manifest, then state).

Plain functions (tests, the CLI and the benchmark call them directly); :mod:`tasks.backfill`
wraps each step in a Prefect task and :mod:`flows.backfill` composes them. The steps live in
:mod:`~cardflow.sources.eventstore.plan`, :mod:`~cardflow.sources.eventstore.landing` (fed by
:mod:`~cardflow.sources.eventstore.chunk_feed`) and :mod:`~cardflow.sources.eventstore.finish`.
The backfill only reads the event store, through read-only sessions; its schema is created by
``cardflow bootstrap --event-store`` (:func:`cardflow.sources.eventstore.store.bootstrap_event_store`).

How a run stays correct:

- **Range.** The upper bound is fixed when the run starts (the greatest key, or the greatest
  before ``end``), so rows arriving during the run wait for the next one. The lower bound is the
  committed watermark minus the lookback window (incremental), the beginning (``full_refresh``),
  or ``start``.
- **Chunks.** Keyset chunks of ``chunk_size`` rows are extracted by one or more connections in
  parallel, but are committed strictly in order: the watermark moves to a chunk's last key only
  after every object of that chunk and of all earlier chunks is written.
- **No duplicates.** A row already in Bronze is never written again (:mod:`cardflow.bronze.inventory`): the
  lookback window, a re-run after a kill, a full refresh or an explicit range re-run only write
  what is missing. Part keys derive from the event ids they hold, so nothing depends on timing.
- **Late rows.** A row committed late with an ``inserted_at`` up to ``lookback`` behind the
  watermark is found by the next incremental run; an older one by an explicit range run.
"""

from __future__ import annotations

from datetime import datetime

from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.sources.eventstore.finish import BackfillResult, finish_backfill
from cardflow.sources.eventstore.landing import land_chunks
from cardflow.sources.eventstore.plan import plan_backfill


def run_backfill(
    settings: Settings,
    store: BronzeStore,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
) -> BackfillResult:
    """Plan, land and finish one backfill run (the flow does the same through Prefect tasks)."""
    plan = plan_backfill(
        settings, store, start=start, end=end, full_refresh=full_refresh, chunk_size=chunk_size
    )
    landed = land_chunks(plan, settings, store)
    return finish_backfill(plan, landed, settings, store)

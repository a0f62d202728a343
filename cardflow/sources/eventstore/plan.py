"""Step 1 of a backfill run: read the committed state and fix the key range, before any write.

The upper bound is fixed when the run starts (the greatest key, or the greatest before ``end``),
so rows arriving during the run wait for the next one, and it stays strictly below the start of the
oldest write transaction still open on the event store (:mod:`~cardflow.sources.eventstore.inflight`),
so rows that transaction commits later are still ahead of the watermark. The lower bound is the committed watermark
minus the lookback window (incremental), the beginning (``full_refresh``), or ``start``. Planning
also checks that the events table and its keyset index exist, so a store that was never
bootstrapped fails here, naming the remedy, with nothing written to Bronze.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.extract import BEGINNING, Position
from cardflow.sources.eventstore.inflight import CapSource, oldest_inflight_write
from cardflow.sources.eventstore.watermark import load_state, state_object_key

logger = logging.getLogger(__name__)

Mode = Literal["incremental", "full_refresh", "range"]


@dataclass(frozen=True)
class BackfillPlan:
    """What one run will do; fixed before anything is written."""

    run_id: str
    mode: Mode
    lo: Position  # exclusive
    hi: Position | None  # inclusive; None when there is nothing to read
    first: Position | None  # first key in (lo, hi]
    watermark_before: Position | None
    ingested_at: datetime
    chunk_size: int
    state_key: str
    inflight_before: datetime | None = None  # exclusive cap from the oldest in-flight writer
    inflight_source: CapSource = "none_in_flight"

    @property
    def commits_state(self) -> bool:
        """Explicit ranges are repairs: they never move the watermark."""
        return self.mode != "range"


def plan_backfill(
    settings: Settings,
    store: BronzeStore,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    full_refresh: bool = False,
    chunk_size: int | None = None,
    now: datetime | None = None,
) -> BackfillPlan:
    """Read the committed state and fix the run's key range.

    Raises:
        ValueError: ``start`` is not before ``end``, or ``chunk_size`` is not positive.
        EventStoreError: the store cannot be reached, or its events table or keyset index is
            missing (the message names the remedy); nothing has been written.
    """
    if start and end and start >= end:
        raise ValueError(f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    chunk_size = chunk_size or settings.backfill_chunk_size
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    key = state_object_key(settings)
    state = load_state(store, key)
    ingested_at = (now or datetime.now(UTC)).astimezone(UTC)
    mode: Mode = "range" if (start or end) else ("full_refresh" if full_refresh else "incremental")
    if start:
        lo = Position.just_before(start)
    elif mode == "incremental" and state.watermark and state.watermark.timestamp:
        lookback = timedelta(minutes=settings.backfill_lookback_minutes)
        lo = Position.just_before(state.watermark.timestamp - lookback)
    else:
        lo = BEGINNING
    with extract.extraction_session(settings) as conn:
        eventstore.require_events_table(conn, settings)
        cap = oldest_inflight_write(conn)
        before = min(b for b in (end, cap.before) if b) if (end or cap.before) else None
        hi = extract.last_position(conn, settings, before=before)
        first = extract.first_position(conn, settings, lo, hi) if hi else None
    run_id = f"{ingested_at:%Y%m%dT%H%M%S%f}Z-{settings.events_table}"
    plan = BackfillPlan(
        run_id=run_id,
        mode=mode,
        lo=lo,
        hi=hi if first else None,
        first=first,
        watermark_before=state.watermark,
        ingested_at=ingested_at,
        chunk_size=chunk_size,
        state_key=key,
        inflight_before=cap.before,
        inflight_source=cap.source,
    )
    logger.info(
        "backfill %s (%s) of %s: keys (%s, %s], watermark before %s, chunks of %d rows, "
        "in-flight cap %s (%s)",
        run_id,
        mode,
        eventstore.describe(settings),
        lo.inserted_at,
        plan.hi.inserted_at if plan.hi else "-",
        state.watermark.inserted_at if state.watermark else "none",
        chunk_size,
        cap.before.isoformat() if cap.before else "-",
        cap.source,
    )
    return plan


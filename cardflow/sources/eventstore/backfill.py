"""The backfill's three steps: plan a run, land its chunks, finish it (manifest, then state).

Plain functions (tests, the CLI and the benchmark call them directly); :mod:`flows.backfill`
wraps each in a Prefect task.

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

import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cardflow.bronze.inventory import BronzeInventory
from cardflow.bronze.layout import bronze_key
from cardflow.bronze.manifest import build_manifest, write_manifest
from cardflow.bronze.quarantine import ORIGIN, quarantine_time, write_quarantine_object
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.uploads import BoundedUploader, wait_all
from cardflow.bronze.writer import write_body
from cardflow.contract import format_timestamp
from cardflow.errors import EventStoreError
from cardflow.settings import Settings
from cardflow.sources.eventstore import extract
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.eventstore.extract import BEGINNING, PartitionGroup, Position
from cardflow.sources.eventstore.partitions import PreparedPart, prepare_group
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state, state_object_key

logger = logging.getLogger(__name__)

Mode = Literal["incremental", "full_refresh", "range"]
#: extraction connections working on consecutive chunks at once
EXTRACT_CONNECTIONS = 2
#: groups buffered per chunk between an extraction connection and the writer
GROUPS_BUFFERED = 8


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

    @property
    def commits_state(self) -> bool:
        """Explicit ranges are repairs: they never move the watermark."""
        return self.mode != "range"


@dataclass
class LandingResult:
    """Counts and objects of the landed chunks."""

    rows_read: int = 0
    rows_written: int = 0
    rows_already_in_bronze: int = 0
    quarantined: int = 0
    slow_path_rows: int = 0
    chunks: int = 0
    objects: list[dict[str, Any]] = field(default_factory=list)
    quarantine_objects: list[dict[str, Any]] = field(default_factory=list)
    adopted_objects: list[dict[str, Any]] = field(default_factory=list)
    """objects that were already in Bronze in the partition-hours this run touched"""
    adopted_quarantine: list[dict[str, Any]] = field(default_factory=list)
    watermark_after: Position | None = None


@dataclass(frozen=True)
class BackfillResult:
    """What a run did (the flow returns it and publishes it as an artifact)."""

    run_id: str
    mode: Mode
    rows_read: int
    rows_written: int
    rows_already_in_bronze: int
    quarantined: int
    objects_written: int
    quarantine_objects_written: int
    manifest_key: str | None
    manifest_objects: int
    watermark_before: dict[str, str] | None
    watermark_after: dict[str, str] | None
    chunks: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- plan ---------------------------------------------------------------------------------------
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
        hi = extract.last_position(conn, settings, before=end)
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
    )
    logger.info(
        "backfill %s (%s) of %s: keys (%s, %s], watermark before %s, chunks of %d rows",
        run_id,
        mode,
        eventstore.describe(settings),
        lo.inserted_at,
        plan.hi.inserted_at if plan.hi else "-",
        state.watermark.inserted_at if state.watermark else "none",
        chunk_size,
    )
    return plan


# --- land ---------------------------------------------------------------------------------------
class _Stop(Exception):
    """Raised inside extraction threads when the writer has given up."""


class _ChunkFeed:
    """Extraction threads: consecutive keyset chunks, each streamed into its own bounded queue."""

    def __init__(self, settings: Settings, plan: BackfillPlan, connections: int) -> None:
        assert plan.hi is not None
        self.settings, self.plan = settings, plan
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._queues: dict[int, queue.Queue[tuple[str, Any]]] = {}
        self._next_index = 0
        self._cursor = plan.lo
        self._exhausted = False
        self._boundary_conn = eventstore.connect(settings)
        self._conn = self._boundary_conn.__enter__()
        extract.prepare_session(self._conn)
        self._threads = [
            threading.Thread(target=self._work, name=f"backfill-extract-{i}", daemon=True)
            for i in range(connections)
        ]
        for thread in self._threads:
            thread.start()

    def queue_of(self, index: int) -> queue.Queue[tuple[str, Any]]:
        with self._lock:
            return self._queues.setdefault(index, queue.Queue(maxsize=GROUPS_BUFFERED))

    def _claim(self) -> tuple[int, Position, Position] | None:
        """The next chunk (index, lo, hi), in key order; None when the range is done."""
        assert self.plan.hi is not None
        with self._lock:
            if self._exhausted:
                return None
            lo = self._cursor
            hi = extract.chunk_end(self._conn, self.settings, lo, self.plan.hi, self.plan.chunk_size)
            index = self._next_index
            self._next_index += 1
            self._cursor = hi
            self._exhausted = hi >= self.plan.hi
            return index, lo, hi

    def _put(self, index: int, item: tuple[str, Any]) -> None:
        q = self.queue_of(index)
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        claimed: tuple[int, Position, Position] | None = None
        try:
            with extract.extraction_session(self.settings) as conn:
                while not self.stop.is_set():
                    claimed = None
                    claimed = self._claim()
                    if claimed is None:
                        self._put(self._next_index_final(), ("done", None))
                        return
                    index, lo, hi = claimed
                    for group in extract.iter_groups(
                        conn, self.settings, lo, hi, ingested_at=self.plan.ingested_at
                    ):
                        self._put(index, ("group", group))
                    self._put(index, ("end", hi))
        except _Stop:
            return
        except Exception as exc:  # handed to the writer thread, which raises it
            index = claimed[0] if claimed else self._next_index_final()
            try:
                self._put(index, ("error", exc))
            except _Stop:
                return

    def _next_index_final(self) -> int:
        with self._lock:
            return self._next_index

    def _get(self, index: int) -> tuple[str, Any]:
        q = self.queue_of(index)
        while True:
            try:
                return q.get(timeout=1.0)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads) and q.empty():
                    raise EventStoreError(
                        f"backfill extraction stopped before chunk {index} was complete; re-run the "
                        "backfill (it resumes from the committed watermark)"
                    ) from None

    def items(self) -> Iterator[tuple[int, str, Any]]:
        """``(chunk index, kind, payload)`` in chunk order; kinds: group, end; stops when done."""
        index = 0
        while True:
            kind, payload = self._get(index)
            if kind == "error":
                raise payload
            if kind == "done":
                return
            yield index, kind, payload
            if kind == "end":
                with self._lock:
                    self._queues.pop(index, None)
                index += 1

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._boundary_conn.__exit__(None, None, None)


def _write_group(
    store: BronzeStore,
    prefix: str,
    group: PartitionGroup,
    existing: frozenset[str] | None,
    quarantined: frozenset[str],
    ingested_at: datetime,
    level: int,
) -> tuple[PreparedPart, dict[str, Any] | None, dict[str, Any] | None]:
    """Prepare one group and write its part and quarantine objects (runs in the upload pool)."""
    part = prepare_group(group, ingested_at=ingested_at, existing=existing, quarantined=quarantined)
    written = None
    if part.body is not None and part.hour is not None and part.part_id is not None:
        key = bronze_key(prefix, part.source, part.event_type, part.hour, part.part_id)
        written = write_body(store, key, part.body, part.rows, level=level).as_dict()
        part.body = None  # free it while the future is kept
    q_obj = write_quarantine_object(
        store, prefix, part.quarantine, at=quarantine_time(part.hour, ingested_at)
    )
    return part, written, q_obj.as_dict() if q_obj else None


def land_chunks(
    plan: BackfillPlan, settings: Settings, store: BronzeStore, *, connections: int = EXTRACT_CONNECTIONS
) -> LandingResult:
    """Extract, check, write and commit the plan's chunks; the watermark follows committed chunks.

    Raises:
        EventStoreError, StorageError: extraction or writing failed; committed chunks stay
            committed and the next run carries on from there.
    """
    result = LandingResult()
    if plan.hi is None or plan.first is None:
        logger.info("backfill %s: nothing to read", plan.run_id)
        return result
    prefix = settings.s3_prefix
    first_ts = plan.first.timestamp or plan.ingested_at
    inventory = BronzeInventory(store, prefix, first_ts, plan.hi.timestamp or first_ts)
    quarantined = frozenset(inventory.quarantined)
    result.adopted_quarantine.extend(inventory.quarantine_objects)
    state = load_state(store, plan.state_key) if plan.commits_state else BackfillState()
    pending: list[tuple[int, Position, list[Future[Any]], list[dict[str, Any]]]] = []
    futures: list[Future[Any]] = []
    adopted: list[dict[str, Any]] = []
    seen_adopted: set[str] = set()

    def commit_ready(block: bool) -> None:
        while pending and (block or all(f.done() for f in pending[0][2])):
            index, end, chunk_futures, chunk_adopted = pending.pop(0)
            objects, q_objects = [], []
            for part, written, q_obj in wait_all(chunk_futures):
                result.rows_written += part.rows
                result.rows_already_in_bronze += part.skipped_existing
                result.quarantined += len(part.quarantine)
                result.slow_path_rows += part.slow_lines
                if written:
                    objects.append(written)
                if q_obj:
                    q_objects.append(q_obj)
            result.objects.extend(objects)
            result.quarantine_objects.extend(q_objects)
            result.adopted_objects.extend(chunk_adopted)
            result.chunks += 1
            result.watermark_after = end
            if plan.commits_state:
                state.watermark = max(state.watermark, end) if state.watermark else end
                state.pending_objects.extend(objects + chunk_adopted)
                state.pending_quarantine.extend(q_objects)
                state.run_id = plan.run_id
                state.updated_at = format_timestamp(datetime.now(UTC))
                save_state(store, plan.state_key, state)
                logger.info(
                    "backfill %s: chunk %d committed, watermark %s/%s, %d objects so far",
                    plan.run_id,
                    index,
                    end.inserted_at,
                    end.event_id,
                    len(result.objects),
                )
                if settings.backfill_chunk_pause_seconds:
                    time.sleep(settings.backfill_chunk_pause_seconds)

    feed = _ChunkFeed(settings, plan, connections)
    try:
        with BoundedUploader(settings.backfill_upload_concurrency) as uploader:
            for index, kind, payload in feed.items():
                if kind == "end":
                    pending.append((index, payload, futures, adopted))
                    futures, adopted = [], []
                    commit_ready(block=False)
                    continue
                group: PartitionGroup = payload
                result.rows_read += group.rows_read
                known = inventory.existing(group.source, group.event_type, group.hour)
                if known is not None:
                    for obj in known.objects:
                        if obj["key"] not in seen_adopted:
                            seen_adopted.add(str(obj["key"]))
                            adopted.append(dict(obj))
                futures.append(
                    uploader.submit(
                        _write_group,
                        store,
                        prefix,
                        group,
                        known.ids if known else None,
                        quarantined,
                        plan.ingested_at,
                        settings.backfill_gzip_level,
                    )
                )
            commit_ready(block=True)
    finally:
        feed.close()
    logger.info(
        "backfill %s: %d rows read, %d written in %d objects, %d already in Bronze, %d quarantined "
        "(%d slow-path)",
        plan.run_id,
        result.rows_read,
        result.rows_written,
        len(result.objects),
        result.rows_already_in_bronze,
        result.quarantined,
        result.slow_path_rows,
    )
    return result


# --- finish -------------------------------------------------------------------------------------
def finish_backfill(
    plan: BackfillPlan, landed: LandingResult, settings: Settings, store: BronzeStore
) -> BackfillResult:
    """Write the run manifest (last of the data), then clear what it lists from the state."""
    state = load_state(store, plan.state_key) if plan.commits_state else BackfillState()
    if plan.commits_state:
        objects = list(state.pending_objects)
        q_objects = list(state.pending_quarantine) + landed.adopted_quarantine
    else:
        objects = landed.objects + landed.adopted_objects
        q_objects = landed.quarantine_objects + landed.adopted_quarantine
    watermark_after = state.watermark if plan.commits_state else plan.watermark_before
    manifest = build_manifest(
        run_id=plan.run_id,
        origin=ORIGIN,
        created_at=plan.ingested_at,
        objects=objects,
        quarantine=q_objects,
        extra={
            "mode": plan.mode,
            "range": {"after": plan.lo.as_dict(), "through": plan.hi.as_dict() if plan.hi else None},
            "watermark": {
                "before": plan.watermark_before.as_dict() if plan.watermark_before else None,
                "after": watermark_after.as_dict() if watermark_after else None,
            },
            "rows_read": landed.rows_read,
            "rows_written": landed.rows_written,
            "quarantined": landed.quarantined,
        },
    )
    mkey = write_manifest(store, settings.s3_prefix, manifest)
    if plan.commits_state:
        state.pending_objects, state.pending_quarantine = [], []
        state.run_id = plan.run_id
        state.updated_at = format_timestamp(datetime.now(UTC))
        save_state(store, plan.state_key, state)
    logger.info("backfill %s: manifest %s lists %d objects", plan.run_id, mkey, len(manifest["objects"]))
    return BackfillResult(
        run_id=plan.run_id,
        mode=plan.mode,
        rows_read=landed.rows_read,
        rows_written=landed.rows_written,
        rows_already_in_bronze=landed.rows_already_in_bronze,
        quarantined=landed.quarantined,
        objects_written=len(landed.objects),
        quarantine_objects_written=len(landed.quarantine_objects),
        manifest_key=mkey,
        manifest_objects=len(manifest["objects"]),
        watermark_before=plan.watermark_before.as_dict() if plan.watermark_before else None,
        watermark_after=watermark_after.as_dict() if watermark_after else None,
        chunks=landed.chunks,
    )


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

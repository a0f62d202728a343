"""Step 2 of a backfill run: land the plan's chunks in Bronze, announce and commit each.

Chunks come from :class:`~cardflow.sources.eventstore.chunk_feed.ChunkFeed` in key order; each
partition group is checked and written in the upload pool. A chunk is committed only after every
object of it and of all earlier chunks is written: one sync makes its parts durable, its own
manifest lists them (what the load consumes), and then the watermark moves to its last key. A row
already in Bronze is never written again (:mod:`cardflow.bronze.inventory`).

One manifest per chunk, not one per run: nothing about a chunk is kept once it is committed, so a
run's memory and its state file do not grow with the run's length (a run of 10 billion events would
otherwise hold every object of the run until its end). A kill between a chunk's manifest and its
state commit redoes the chunk: it writes nothing again (the inventory adopts what is there) and its
new manifest lists the same objects, which the load loads once (file-level load history).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cardflow.bronze.inventory import BronzeInventory
from cardflow.bronze.layout import bronze_key
from cardflow.bronze.manifest import build_manifest, write_manifest
from cardflow.bronze.quarantine import ORIGIN, quarantine_time, write_quarantine_object
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.uploads import BoundedUploader, limit_malloc_arenas, release_free_memory, wait_all
from cardflow.bronze.writer import write_body
from cardflow.contract import format_timestamp
from cardflow.settings import Settings
from cardflow.sources.eventstore.chunk_feed import EXTRACT_CONNECTIONS, ChunkFeed
from cardflow.sources.eventstore.extract import OriginalPayloads, PartitionGroup, Position
from cardflow.sources.eventstore.partitions import PreparedPart, prepare_group
from cardflow.sources.eventstore.plan import BackfillPlan
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state

logger = logging.getLogger(__name__)


@dataclass
class ChunksLanded:
    """Counts of the chunks a backfill run landed and the manifests that announced them (the input
    of :func:`finish_backfill`)."""

    rows_read: int = 0
    rows_written: int = 0
    rows_already_in_bronze: int = 0
    quarantined: int = 0
    slow_path_rows: int = 0
    chunks: int = 0
    objects_written: int = 0
    quarantine_objects_written: int = 0
    objects_listed: int = 0
    """objects the chunk manifests list: written ones, and ones already in Bronze in the
    partition-hours this run touched (adopted)"""
    manifest_keys: list[str] = field(default_factory=list)
    watermark_after: Position | None = None
    state: BackfillState | None = None
    """the state as this run last committed it; None when the run does not commit state. The
    finish step goes on from it instead of reading a second copy."""


def _as_dict(position: Position | None) -> dict[str, Any] | None:
    return position.as_dict() if position else None


def chunk_run_id(run_id: str, chunk: int) -> str:
    """The manifest name of a run's chunk: the run id (time-ordered: the load cursor lists by it)
    and the chunk's index."""
    return f"{run_id}-c{chunk:06d}"


def _write_group(
    store: BronzeStore,
    prefix: str,
    group: PartitionGroup,
    existing: frozenset[str] | None,
    quarantined: frozenset[str],
    ingested_at: datetime,
    level: int,
    originals: OriginalPayloads,
) -> tuple[PreparedPart, dict[str, Any] | None, dict[str, Any] | None]:
    """Prepare one group and write its part and quarantine objects (runs in the upload pool)."""
    part = prepare_group(
        group, ingested_at=ingested_at, existing=existing, quarantined=quarantined, originals=originals
    )
    written = None
    if part.body is not None and part.hour is not None and part.part_id is not None:
        key = bronze_key(prefix, part.source, part.event_type, part.hour, part.part_id)
        # made durable by one sync before the chunk's commit (save_state), not one fsync each
        written = write_body(store, key, part.body, part.rows, level=level, durable=False).as_dict()
        part.body = None  # free it while the future is kept
    q_obj = write_quarantine_object(
        store, prefix, part.quarantine, at=quarantine_time(part.hour, ingested_at)
    )
    return part, written, q_obj.as_dict() if q_obj else None


def land_chunks(
    plan: BackfillPlan, settings: Settings, store: BronzeStore, *, connections: int = EXTRACT_CONNECTIONS
) -> ChunksLanded:
    """Extract, check, write and commit the plan's chunks; the watermark follows committed chunks.

    Raises:
        EventStoreError, StorageError: extraction or writing failed; committed chunks stay
            committed and the next run carries on from there.
    """
    result = ChunksLanded()
    if plan.hi is None or plan.first is None:
        logger.info("backfill %s: nothing to read", plan.run_id)
        return result
    prefix = settings.s3_prefix
    first_ts = plan.first.timestamp or plan.ingested_at
    inventory = BronzeInventory(store, prefix, first_ts, plan.hi.timestamp or first_ts)
    quarantined = frozenset(inventory.quarantined)
    unlisted_quarantine = list(inventory.quarantine_objects)  # adopted: the first manifest lists them
    state = load_state(store, plan.state_key) if plan.commits_state else BackfillState()
    if plan.commits_state:
        result.state = state
    pending: list[tuple[int, Position, list[Future[Any]], list[dict[str, Any]]]] = []
    futures: list[Future[Any]] = []
    adopted: list[dict[str, Any]] = []
    seen_adopted: set[str] = set()
    chunk_lo = plan.lo

    def commit_ready(block: bool) -> None:
        nonlocal chunk_lo
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
            result.objects_written += len(objects)
            result.quarantine_objects_written += len(q_objects)
            result.chunks += 1
            result.watermark_after = end
            # the lookback re-reads keys below the watermark: it never moves back
            watermark = max(state.watermark, end) if state.watermark else end
            # an older cardflow kept committed objects in the state until the run's end: list them now
            listed = [*state.pending_objects, *objects, *chunk_adopted]
            listed_quarantine = [*state.pending_quarantine, *q_objects, *unlisted_quarantine]
            if listed or listed_quarantine:
                manifest = build_manifest(
                    run_id=chunk_run_id(plan.run_id, index),
                    origin=ORIGIN,
                    created_at=plan.ingested_at,
                    objects=listed,
                    quarantine=listed_quarantine,
                    extra={
                        "mode": plan.mode,
                        "run": plan.run_id,
                        "chunk": index,
                        "range": {"after": chunk_lo.as_dict(), "through": end.as_dict()},
                        "watermark": {
                            "before": _as_dict(state.watermark if plan.commits_state else plan.watermark_before),
                            "after": watermark.as_dict() if plan.commits_state else None,
                        },
                    },
                )
                result.manifest_keys.append(write_manifest(store, prefix, manifest))  # syncs the parts first
                result.objects_listed += len(manifest["objects"])
                unlisted_quarantine.clear()
            chunk_lo = end
            release_free_memory()
            if plan.commits_state:
                state.watermark = watermark
                state.pending_objects, state.pending_quarantine = [], []
                state.run_id = plan.run_id
                state.updated_at = format_timestamp(datetime.now(UTC))
                save_state(store, plan.state_key, state)
                logger.info(
                    "backfill %s: chunk %d committed, watermark %s/%s, %d objects so far",
                    plan.run_id,
                    index,
                    end.inserted_at,
                    end.event_id,
                    result.objects_written,
                    extra={"cardflow_rows": result.rows_read},  # the CLI's progress display
                )
                if settings.backfill_chunk_pause_seconds:
                    time.sleep(settings.backfill_chunk_pause_seconds)

    limit_malloc_arenas()  # before the extraction and upload threads start
    feed = ChunkFeed(settings, plan, connections)
    originals = OriginalPayloads(settings)  # connects only if a line needs its original text
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
                        originals,
                    )
                )
            commit_ready(block=True)
    finally:
        feed.close()
        originals.close()
    logger.info(
        "backfill %s: %d rows read, %d written in %d objects, %d already in Bronze, %d quarantined "
        "(%d slow-path)",
        plan.run_id,
        result.rows_read,
        result.rows_written,
        result.objects_written,
        result.rows_already_in_bronze,
        result.quarantined,
        result.slow_path_rows,
    )
    return result


"""Step 2 of a backfill run: land the plan's chunks in Bronze and commit the watermark after each.

Chunks come from :class:`~cardflow.sources.eventstore.chunk_feed.ChunkFeed` in key order; each
partition group is checked and written in the upload pool. A chunk is committed (the watermark
moves to its last key, its objects join the state's pending list) only after every object of it
and of all earlier chunks is written. A row already in Bronze is never written again
(:mod:`cardflow.bronze.inventory`).
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
from cardflow.bronze.quarantine import quarantine_time, write_quarantine_object
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.uploads import BoundedUploader, limit_malloc_arenas, wait_all
from cardflow.bronze.writer import write_body
from cardflow.contract import format_timestamp
from cardflow.settings import Settings
from cardflow.sources.eventstore.chunk_feed import EXTRACT_CONNECTIONS, ChunkFeed
from cardflow.sources.eventstore.extract import PartitionGroup, Position
from cardflow.sources.eventstore.partitions import PreparedPart, prepare_group
from cardflow.sources.eventstore.plan import BackfillPlan
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state

logger = logging.getLogger(__name__)


@dataclass
class ChunksLanded:
    """Counts and objects of the chunks a backfill run landed (the input of :func:`finish_backfill`)."""

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
    state: BackfillState | None = None
    """the state as this run last committed it (its pending list holds ``objects``); None when the
    run does not commit state. The finish step goes on from it instead of reading a second copy."""


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
    result.adopted_quarantine.extend(inventory.quarantine_objects)
    state = load_state(store, plan.state_key) if plan.commits_state else BackfillState()
    if plan.commits_state:
        result.state = state
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
                    extra={"cardflow_rows": result.rows_read},  # the CLI's progress display
                )
                if settings.backfill_chunk_pause_seconds:
                    time.sleep(settings.backfill_chunk_pause_seconds)

    limit_malloc_arenas()  # before the extraction and upload threads start
    feed = ChunkFeed(settings, plan, connections)
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


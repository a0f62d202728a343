"""Real-time landing: a batch of MQ messages -> Bronze parts, quarantine and a manifest.

Exactly-once effect under redelivery rests on three choices made here:

1. **Deterministic ingested_at.** A batch's ``ingested_at`` is the latest *bus-entry time* of its
   messages (the publisher's ``published_at`` header, else the AMQP ``timestamp`` property, else
   the event's ``inserted_at``), never the consumer's clock. A redelivered batch therefore falls in
   the same ``dt=/hour=`` partition and serializes to the same bytes. Only a batch with no time at
   all (rejects without any timestamp) falls back to the wall clock; the result says so.
2. **Deterministic keys and bytes.** One object per (source, event_type) of the batch (one
   partition, as ingested_at is one per batch), named ``part_id(sorted event_ids)``, records
   sorted by event_id, gzip without mtime: the same batch gives the same key and the same bytes,
   so a retry overwrites instead of adding. Duplicate event_ids inside a batch are written once.
3. **Manifest last.** ``_manifests/origin=realtime/<ingested>-<batch_id>.json`` is written (by
   :mod:`cardflow.bronze.manifest`, the one manifest writer) after every part and quarantine
   object; its content is deterministic too, so a load that already took it skips it. The caller
   acks the messages (or answers 2xx) only after :func:`land_messages` returns.

A redelivery that regroups messages into *different* batches (after a crash, with batching by
time) writes other objects holding some of the same event_ids; Silver dedupes by event_id, so the
effect stays exactly once. The integration tests check both properties.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cardflow.bronze.layout import bronze_key, part_id
from cardflow.bronze.manifest import build_manifest, read_manifest_document, write_manifest
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.writer import WrittenObject, quarantine_entry, write_quarantine, write_records
from cardflow.contract import dumps_record, format_timestamp
from cardflow.errors import ManifestError
from cardflow.sources.mq.messages import Canonical, RawMessage, canonicalize

logger = logging.getLogger(__name__)

ORIGIN = "realtime"
_writer_pool: ThreadPoolExecutor | None = None
_writer_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    """A small process-wide pool for concurrent part uploads (created on first use)."""
    global _writer_pool
    with _writer_lock:
        if _writer_pool is None:
            _writer_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bronze-writer")
        return _writer_pool


@dataclass(frozen=True)
class BatchLanding:
    """What landing one batch did: counts per outcome and the objects written (keys, rows, checksums).

    Built by :func:`land_messages`, or read back from the batch's manifest in Bronze by
    :meth:`from_manifest` (what the ``mq_realtime_landing`` flow records); both give the same value.
    """

    batch_id: str
    messages: int
    landed: int
    duplicates: int
    quarantined: int
    ingested_at: str
    ingested_at_source: str
    manifest_key: str | None
    objects: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """The small JSON-friendly summary the webhook answers and artifacts show (no message data)."""
        return {
            "batch_id": self.batch_id,
            "messages": self.messages,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "objects": len(self.objects),
            "quarantine_objects": len(self.quarantine),
            "reasons": dict(self.reasons),
            "ingested_at": self.ingested_at,
            "manifest_key": self.manifest_key,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, key: str, manifest: dict[str, Any]) -> BatchLanding:
        """The landing a real-time manifest records (the inverse of what :func:`land_messages` wrote).

        Raises:
            ManifestError: the manifest is not a real-time batch manifest.
        """
        run_id = str(manifest.get("run_id", ""))
        if manifest.get("origin") != ORIGIN or "-" not in run_id or "messages" not in manifest:
            raise ManifestError(
                key,
                f"origin {manifest.get('origin')!r} run {run_id!r} is not a real-time batch manifest "
                f"(expected origin {ORIGIN!r} and a run id <ingested_at>-<batch_id>)",
            )
        quarantine = [dict(q) for q in manifest.get("quarantine", [])]
        reasons: Counter[str] = Counter()
        for entry in quarantine:
            reasons.update(entry.pop("reasons", {}))
        return cls(
            batch_id=run_id.rsplit("-", 1)[1],
            messages=int(manifest["messages"]),
            landed=int(manifest.get("rows", 0)),
            duplicates=int(manifest.get("duplicates", 0)),
            quarantined=sum(int(q.get("rows", 0)) for q in quarantine),
            ingested_at=str(manifest.get("created_at", "")),
            ingested_at_source=str(manifest.get("ingested_at_source", "")),
            manifest_key=key,
            objects=list(manifest["objects"]),
            quarantine=quarantine,
            reasons=dict(sorted(reasons.items())),
        )


def batch_ingested_at(results: Sequence[Canonical]) -> tuple[datetime, str]:
    """The batch's ingested_at and where it came from (``bus`` or ``wall_clock``)."""
    stamps = [s for s in (r.stamp for r in results) if s is not None]
    if stamps:
        return max(stamps).astimezone(UTC), "bus"
    return datetime.now(UTC), "wall_clock"


def copy_rank(record: dict[str, Any]) -> tuple[str, str]:
    """Order of conflicting copies of one event_id, largest wins: inserted_at (canonical UTC text,
    so it sorts as time), then the MD5 of the payload's Bronze text (what Silver's dedupe hashes)."""
    return record["inserted_at"], hashlib.md5(dumps_record(record["payload"]).encode("utf-8")).hexdigest()


def land_messages(messages: Sequence[RawMessage], store: BronzeStore, prefix: str) -> BatchLanding:
    """Canonicalize, validate and durably write one batch; return counts per outcome.

    Does nothing (returns zero counts, writes nothing) for an empty batch. Safe to call again with
    the same batch: the same keys are rewritten with the same bytes.

    Raises:
        StorageError: a write failed; nothing may be acked, the batch will be redelivered.
    """
    if not messages:
        return BatchLanding("", 0, 0, 0, 0, "", "none", None)
    results = [canonicalize(m) for m in messages]
    ingested_at, stamp_source = batch_ingested_at(results)
    batch_id = part_id(sorted({r.identity for r in results}))

    first: dict[str, dict[str, Any]] = {}
    messages_of: dict[str, RawMessage] = {}
    rejects: list[Canonical] = []
    duplicates = 0
    for result in results:
        if result.envelope is None:
            rejects.append(result)
            continue
        record = result.envelope.to_bronze(ingested_at)
        seen = first.get(record["event_id"])
        if seen is None:
            first[record["event_id"]] = record
            messages_of[record["event_id"]] = result.message
        elif seen == record:
            duplicates += 1
        else:
            # the one rule of Silver's dedupe (dbt macro raw_event_order): latest inserted_at, then
            # the larger content hash; the other copy is quarantined, so the choice never depends
            # on arrival order
            loser_message = result.message
            if copy_rank(record) > copy_rank(seen):
                first[record["event_id"]], loser_message = record, messages_of[record["event_id"]]
                messages_of[record["event_id"]] = result.message
            rejects.append(
                Canonical(
                    loser_message,
                    reason="conflicting_duplicate",
                    detail=f"event_id {record['event_id']} arrived twice in one batch with different content; "
                    "kept the copy with the latest inserted_at, then the larger payload hash",
                )
            )
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for event_id, record in first.items():
        groups[(record["source"], record["event_type"])][event_id] = record

    # the part objects are independent: upload them concurrently (S3 latency overlaps); the
    # manifest below waits for all of them
    uploads: list[Future[WrittenObject]] = []
    for (source, event_type), by_id in sorted(groups.items()):
        ids = sorted(by_id)
        key = bronze_key(prefix, source, event_type, ingested_at, part_id(ids))
        # durable with the manifest: write_manifest syncs the store once before it writes
        uploads.append(_writers().submit(write_records, store, key, [by_id[i] for i in ids], durable=False))

    reasons = Counter(r.reason or "unknown" for r in rejects)
    quarantined: list[WrittenObject] = []
    if rejects:
        entries = sorted(
            (
                quarantine_entry(
                    r.reason or "unknown",
                    r.detail or "",
                    r.message.quarantine_record(),
                    origin=ORIGIN,
                    seen_at=ingested_at,
                )
                | {"identity": r.identity}
                for r in rejects
            ),
            key=lambda e: (e["identity"], e["reason"]),
        )
        obj = write_quarantine(store, prefix, ORIGIN, entries, identity=batch_id, at=ingested_at)
        if obj:
            quarantined.append(obj)

    written = [upload.result() for upload in uploads]  # re-raises the first StorageError
    run_id = f"{ingested_at:%Y%m%dT%H%M%S%fZ}-{batch_id}"
    manifest = build_manifest(
        run_id=run_id,
        origin=ORIGIN,
        created_at=ingested_at,
        objects=[o.as_dict() for o in written],
        quarantine=[o.as_dict() | {"reasons": dict(sorted(reasons.items()))} for o in quarantined],
        extra={"messages": len(messages), "duplicates": duplicates, "ingested_at_source": stamp_source},
    )
    mkey = write_manifest(store, prefix, manifest)
    landed = manifest["rows"]
    logger.info(
        "landed batch %s: %d messages -> %d rows in %d objects, %d duplicates, %d quarantined; manifest %s",
        batch_id,
        len(messages),
        landed,
        len(written),
        duplicates,
        len(rejects),
        mkey,
    )
    return BatchLanding(
        batch_id=batch_id,
        messages=len(messages),
        landed=landed,
        duplicates=duplicates,
        quarantined=len(rejects),
        ingested_at=format_timestamp(ingested_at),
        ingested_at_source=stamp_source,
        manifest_key=mkey,
        objects=manifest["objects"],
        quarantine=[o.as_dict() for o in quarantined],
        reasons=dict(sorted(reasons.items())),
    )


def read_batch_landing(store: BronzeStore, manifest_key: str, *, batch_id: str | None = None) -> BatchLanding:
    """What a landed batch wrote, read back from its manifest, with every listed object checked.

    This is how a run triggered by the ``cardflow.mq.batch.landed`` event learns what landed: the
    event carries only the batch id and the manifest key, never the messages.

    Args:
        manifest_key: key of the batch's manifest (``<prefix>/_manifests/origin=realtime/...``).
        batch_id: when given, the manifest must be this batch's.

    Raises:
        ManifestError: the manifest is missing or unreadable, belongs to another batch or origin, or
            lists an object that is not in Bronze.
    """
    landing = BatchLanding.from_manifest(manifest_key, read_manifest_document(store, manifest_key))
    if batch_id is not None and batch_id != landing.batch_id:
        raise ManifestError(
            manifest_key,
            f"records batch {landing.batch_id}, not {batch_id}; check the event's batch_id and manifest_key",
        )
    missing = [o["key"] for o in [*landing.objects, *landing.quarantine] if not store.exists(o["key"])]
    if missing:
        raise ManifestError(
            manifest_key,
            f"lists {len(missing)} object(s) missing from Bronze (first: {missing[0]}); the batch must be "
            "landed again (its sender redelivers it if it was not acknowledged)",
        )
    logger.info(
        "batch %s in Bronze: %d messages -> %d rows in %d objects, %d quarantined; manifest %s",
        landing.batch_id,
        landing.messages,
        landing.landed,
        len(landing.objects),
        landing.quarantined,
        manifest_key,
    )
    return landing

"""Bronze input for tests and benchmarks, built only from the shared pieces.

Envelopes come from :class:`cardflow.dev.generator.EventGenerator`, are validated with
:func:`cardflow.contract.validate_envelope`, become canonical records with ``Envelope.to_bronze``,
are grouped into hourly partitions (one part per source/type/hour, keyed by ``cardflow.bronze.layout``) and
written with ``cardflow.bronze.writer.write_records``; a manifest in the agreed shape is written last.
This mirrors what the backfill writes without depending on its code, so the load (and anything
else downstream) can be tested on its own.

Events stream: a partition is flushed once the newest event seen is two days past it (the
generator emits day by day, unordered within a day), so a million events need little memory.
A late event for an already flushed hour simply becomes a second part in that partition (its
part id differs because its identities do).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cardflow.bronze.layout import bronze_key, manifest_key, part_id
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.writer import WrittenObject, quarantine_entry, write_quarantine, write_records
from cardflow.contract import format_timestamp, validate_envelope
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ContractViolation

INGESTED_AT = datetime(2026, 11, 1, 6, tzinfo=UTC)


@dataclass
class BronzeBatch:
    """What one factory run wrote."""

    run_id: str
    manifest_key: str
    objects: list[WrittenObject] = field(default_factory=list)
    quarantine: list[WrittenObject] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.objects]


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def write_bronze(
    store: BronzeStore,
    prefix: str,
    envelopes: Iterable[Mapping[str, Any]],
    *,
    run_id: str = "factory-run",
    origin: str = "backfill",
    ingested_at: datetime = INGESTED_AT,
    keep_event_ids: bool = True,
) -> BronzeBatch:
    """Validate ``envelopes``, write hourly Bronze parts and then a manifest; return what was written."""
    batch = BronzeBatch(run_id=run_id, manifest_key=manifest_key(prefix, origin, run_id))
    open_parts: dict[tuple[str, str, datetime], list[dict[str, Any]]] = {}
    rejected: list[dict[str, Any]] = []
    newest = datetime.min.replace(tzinfo=UTC)

    def flush(part: tuple[str, str, datetime]) -> None:
        records = open_parts.pop(part)
        source, event_type, hour = part
        key = bronze_key(prefix, source, event_type, hour, part_id(r["event_id"] for r in records))
        batch.objects.append(write_records(store, key, records))

    for raw in envelopes:
        try:
            envelope = validate_envelope(raw)
        except ContractViolation as exc:
            rejected.append(
                quarantine_entry(exc.reason, exc.detail, _jsonable(raw), origin=origin, seen_at=ingested_at)
            )
            continue
        hour = _hour(envelope.inserted_at)
        part = (envelope.source, envelope.event_type, hour)
        open_parts.setdefault(part, []).append(envelope.to_bronze(ingested_at))
        if keep_event_ids:
            batch.event_ids.append(envelope.event_id)
        if hour > newest:
            newest = hour
            for done in [p for p in open_parts if p[2] < newest - timedelta(days=2)]:
                flush(done)
    for part in sorted(open_parts, key=lambda p: (p[2], p[0], p[1])):
        flush(part)
    written = write_quarantine(store, prefix, origin, rejected, identity=run_id, at=ingested_at)
    if written:
        batch.quarantine.append(written)
    write_manifest(store, batch, origin=origin, created_at=ingested_at)
    return batch


def write_manifest(store: BronzeStore, batch: BronzeBatch, *, origin: str, created_at: datetime) -> None:
    """Write the run manifest (agreed shape) for ``batch`` at ``batch.manifest_key``."""
    manifest = {
        "run_id": batch.run_id,
        "origin": origin,
        "created_at": format_timestamp(created_at),
        "objects": [o.as_dict() for o in batch.objects],
        "quarantine": [o.as_dict() for o in batch.quarantine],
        "rows": batch.rows,
        "watermark": {"before": None, "after": None},
    }
    store.write_bytes(batch.manifest_key, json.dumps(manifest, indent=1).encode())


def generate_bronze(
    store: BronzeStore,
    prefix: str,
    *,
    events: int = 2_000,
    seed: int = 7,
    days: int = 3,
    run_id: str | None = None,
    **generator_options: Any,
) -> BronzeBatch:
    """Generate ``events`` realistic events and write them as one backfill-like Bronze run."""
    config = GeneratorConfig(events=events, seed=seed, days=days, **generator_options)
    return write_bronze(
        store,
        prefix,
        EventGenerator(config),
        run_id=run_id or f"factory-{events}-{seed}",
        keep_event_ids=events <= 200_000,
    )


def _jsonable(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: format_timestamp(v) if isinstance(v, datetime) else v for k, v in raw.items()}

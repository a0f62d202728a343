"""What Bronze already holds for a backfill range: the basis of idempotent re-runs.

A backfill never rewrites an event that Bronze already has. Before extracting, the run lists the
part objects of the days its range touches (per partition and day, or per partition for long
ranges) and the origin's quarantine. A partition-hour with objects is "dirty": when the run meets
it, the objects are read once and their event ids are excluded, and the objects are listed in the
run's manifest (they cover the range too: this is how objects of a killed run are adopted).
Partition-hours without objects, the common case of an incremental run, cost nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from cardflow.bronze.layout import day_prefix, parse_part_key, quarantine_day_prefix, type_prefix
from cardflow.bronze.quarantine import ORIGIN
from cardflow.bronze.store import BronzeStore
from cardflow.contract import EVENT_TYPES, SOURCE_OF

logger = logging.getLogger(__name__)

#: list per day up to this many days, per (source, event_type) prefix beyond
MAX_DAYS_LISTED_PER_DAY = 62
ID_PREFIX = b'{"event_id":"'


@dataclass(frozen=True)
class ExistingHour:
    """The event ids in one partition-hour's existing objects, and those objects."""

    ids: frozenset[str]
    objects: tuple[dict[str, object], ...]


def _days(first: datetime, last: datetime) -> list[str]:
    days, day = [], first.date()
    while day <= last.date():
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def object_ids(data: bytes) -> list[str]:
    """Event ids of a Bronze part or quarantine object, in order."""
    ids = []
    for line in gzip.decompress(data).split(b"\n"):
        if not line:
            continue
        if line.startswith(ID_PREFIX):
            ids.append(line[len(ID_PREFIX) : len(ID_PREFIX) + 36].decode("ascii"))
        else:
            record = json.loads(line)
            ids.append(str(record.get("event_id") or record.get("record", {}).get("event_id")))
    return ids


def describe_object(key: str, data: bytes, rows: int) -> dict[str, object]:
    return {"key": key, "rows": rows, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


class BronzeInventory:
    """Existing Bronze objects of the days ``first..last`` (UTC) for this store and prefix."""

    def __init__(self, store: BronzeStore, prefix: str, first: datetime, last: datetime) -> None:
        self.store = store
        self.prefix = prefix
        days = _days(first, last)
        self._parts: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        wanted = set(days)
        for event_type in EVENT_TYPES:
            source = SOURCE_OF[event_type]
            if len(days) <= MAX_DAYS_LISTED_PER_DAY:
                keys = [k for d in days for k in store.list_keys(day_prefix(prefix, source, event_type, d))]
            else:
                keys = store.list_keys(type_prefix(prefix, source, event_type))
            for key in keys:
                parsed = parse_part_key(key)
                if parsed and parsed[2] in wanted:
                    src, typ, day, hour = parsed
                    self._parts[(src, typ, f"{day}T{hour}")].append(key)
        self.quarantined: set[str] = set()
        self.quarantine_objects: list[dict[str, object]] = []
        for day in days:
            for key in store.list_keys(quarantine_day_prefix(prefix, ORIGIN, day)):
                data = store.read_bytes(key)
                ids = object_ids(data)
                self.quarantined.update(ids)
                self.quarantine_objects.append(describe_object(key, data, len(ids)))
        self._cache: dict[tuple[str, str, str], ExistingHour] = {}
        logger.info(
            "Bronze inventory %s..%s: %d partition-hours with objects, %d quarantined rows",
            days[0], days[-1], len(self._parts), len(self.quarantined),
        )

    @property
    def dirty_hours(self) -> int:
        return len(self._parts)

    def existing(self, source: str, event_type: str, hour: str | None) -> ExistingHour | None:
        """The ids already stored for a partition-hour (read once), or None when it has no objects."""
        if hour is None:
            return None
        slot = (source, event_type, hour)
        keys = self._parts.get(slot)
        if not keys:
            return None
        if slot not in self._cache:
            # groups arrive in hour order: forget hours already passed (bounded memory on re-runs)
            for old in [s for s in self._cache if s[2] < hour]:
                del self._cache[old]
            ids: set[str] = set()
            objects = []
            for key in sorted(keys):
                data = self.store.read_bytes(key)
                object_id_list = object_ids(data)
                ids.update(object_id_list)
                objects.append(describe_object(key, data, len(object_id_list)))
            self._cache[slot] = ExistingHour(frozenset(ids), tuple(objects))
        return self._cache[slot]

"""Bronze key layout: the one place that builds object keys.

``{prefix}/source={source}/type={event_type}/dt=YYYY-MM-DD/hour=HH/part-<id>.json.gz``

``<id>`` is derived from what the object holds (see :func:`part_id`), so a retry or a re-run writes
the same key instead of a new one. Quarantine, state and manifests live under ``_``-prefixed
folders beside the partitions so that partition listings never see them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

PART_SUFFIX = ".json.gz"


def join(*parts: str) -> str:
    """Join key parts with single slashes, ignoring empty parts (an empty S3_PREFIX is allowed)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def partition_prefix(prefix: str, source: str, event_type: str, ts: datetime) -> str:
    """The folder of one hourly partition (``ts`` is converted to UTC)."""
    utc = ts.astimezone(UTC)
    return join(prefix, f"source={source}", f"type={event_type}", f"dt={utc:%Y-%m-%d}", f"hour={utc:%H}")


def part_id(identities: Iterable[str], *, length: int = 20) -> str:
    """A deterministic part id: a SHA-256 over the identities an object holds, in the given order."""
    digest = hashlib.sha256()
    for identity in identities:
        digest.update(identity.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:length]


def day_prefix(prefix: str, source: str, event_type: str, day: str) -> str:
    """The folder of one day of one partition (``day`` is ``YYYY-MM-DD``), with a trailing slash."""
    return join(prefix, f"source={source}", f"type={event_type}", f"dt={day}") + "/"


def type_prefix(prefix: str, source: str, event_type: str) -> str:
    """The folder of all days of one (source, event_type), with a trailing slash."""
    return join(prefix, f"source={source}", f"type={event_type}") + "/"


def parse_part_key(key: str) -> tuple[str, str, str, str] | None:
    """``(source, event_type, 'YYYY-MM-DD', 'HH')`` of a part key, or None for other keys."""
    if not is_part_key(key):
        return None
    fields = dict(seg.split("=", 1) for seg in key.split("/") if "=" in seg)
    try:
        return fields["source"], fields["type"], fields["dt"], fields["hour"]
    except KeyError:
        return None


def bronze_key(prefix: str, source: str, event_type: str, ts: datetime, pid: str) -> str:
    """Key of one Bronze part object."""
    return join(partition_prefix(prefix, source, event_type, ts), f"part-{pid}{PART_SUFFIX}")


def quarantine_key(prefix: str, origin: str, ts: datetime, pid: str) -> str:
    """Key of a quarantine object (records that failed the contract, each with its reason)."""
    utc = ts.astimezone(UTC)
    return join(prefix, "_quarantine", f"origin={origin}", f"dt={utc:%Y-%m-%d}", f"part-{pid}{PART_SUFFIX}")


def quarantine_day_prefix(prefix: str, origin: str, day: str) -> str:
    """The folder of one day of an origin's quarantine, with a trailing slash."""
    return join(prefix, "_quarantine", f"origin={origin}", f"dt={day}") + "/"


def state_key(prefix: str, name: str) -> str:
    """Key of a small JSON state object (e.g. the backfill watermark) stored with the data."""
    return join(prefix, "_state", f"{name}.json")


def manifest_key(prefix: str, origin: str, run_id: str) -> str:
    """Key of a run manifest; manifests are written last and are what the load consumes."""
    return join(prefix, "_manifests", f"origin={origin}", f"{run_id}.json")


def is_part_key(key: str) -> bool:
    """True for Bronze data objects (not quarantine, state or manifests)."""
    return key.endswith(PART_SUFFIX) and "/_" not in "/" + key.split("source=", 1)[0] and "source=" in key

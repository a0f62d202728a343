"""Turning one hourly partition group of a chunk into the Bronze part to write.

The chunk query (``sql/backfill_chunk.sql``) hands over a partition's rows as one string of lines.
The common case stays in C: a few whole-string checks finish the contract check that the SQL
jsonpath started, jsonb's spaced payload text is compacted with two replaces, and the lines are
sorted by event id (a part holds a set of events in event_id order; its id is the hash of those
ids, so the same rows give the same key whatever order the database returned them in). Each line
is byte for byte ``dumps_record(Envelope.to_bronze(ingested_at))``. Only when a check is not
satisfied, or the hour already holds Bronze objects, is the group walked line by line, and only
the lines in doubt are parsed and judged by the contract (:mod:`tasks.quarantine`).

Why the whole-string checks are sound. For an accepted row jsonpath guarantees that every known
payload field exists with its type (strict mode). jsonb prints ``": "`` after every key and
``", "`` between members and escapes every quote inside strings, so in a partition of ``n`` rows
of one event type with ``k`` keys (decimals count their two) and ``c`` member separators, there
are at least ``n*k`` occurrences of ``": "`` and ``n*c`` of ``", "``; exactly that many means no
extra key anywhere and neither sequence inside a string, so the replaces touch only separators.
Exactly two dots per row plus one per timestamp field means no number has a fraction (json.loads
would make it a float) and every timestamp has its single fraction dot; with digits mapped to
zero, each timestamp and date field must show the one canonical shape that
``datetime.fromisoformat`` reads (and no year 0000); jsonpath's ``datetime()`` already refused
impossible dates and times. Anything else is not an error, just the slow path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from cardflow.contract import PAYLOAD_FIELDS, SOURCE_OF
from tasks.extract import PartitionGroup
from tasks.quarantine import judge_line

PART_ID_LENGTH = 20
DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
#: dots in a canonical envelope outside the payload: inserted_at and ingested_at
ENVELOPE_DOTS = 2
TIMESTAMP_SHAPE = b"0000-00-00T00:00:00.000000+00:00"
DATE_SHAPE = b"0000-00-00"


@dataclass(frozen=True)
class TextProfile:
    """What the text of one canonical row of an event type must show (see module docstring)."""

    keys: int
    separators: int
    dots: int
    shapes: tuple[tuple[bytes, bytes], ...]  # (field with zeroed digits, field with year 0000)


@cache
def text_profile(event_type: str) -> TextProfile | None:
    """The profile of ``event_type`` derived from the contract (None for unknown types)."""
    fields = PAYLOAD_FIELDS.get(event_type)
    if fields is None:
        return None
    decimals = sum(1 for kind in fields.values() if kind == "decimal")
    timestamps = sum(1 for kind in fields.values() if kind == "timestamp")
    shapes = []
    for name, kind in fields.items():
        if kind in ("timestamp", "date"):
            shape = TIMESTAMP_SHAPE if kind == "timestamp" else DATE_SHAPE
            shapes.append((b'"%s": "%s"' % (name.encode(), shape), b'"%s": "0000-' % name.encode()))
    return TextProfile(
        keys=len(fields) + 2 * decimals,
        separators=len(fields) - 1 + decimals,
        dots=ENVELOPE_DOTS + timestamps,
        shapes=tuple(shapes),
    )


def text_checks_pass(body: bytes, rows: int, profile: TextProfile) -> bool:
    """True when ``rows`` accepted lines in ``body`` are certainly canonical after compaction."""
    if body.startswith(b"?") or b"\n?" in body:
        return False
    if body.count(b'": ') != rows * profile.keys or body.count(b", ") != rows * profile.separators:
        return False
    if body.count(b".") != rows * profile.dots:
        return False
    if profile.shapes:
        zeroed = body.translate(DIGITS_TO_ZERO)
        for shape, year_zero in profile.shapes:
            if zeroed.count(shape) != rows or year_zero in body:
                return False
    return True


def compact(body: bytes) -> bytes:
    """jsonb's spaced separators to json.dumps' compact ones (only valid after the checks)."""
    return body.replace(b'": ', b'":').replace(b", ", b",")


@dataclass
class PreparedPart:
    """What one group becomes: a part body to write (or none) and quarantine entries."""

    source: str
    event_type: str
    hour: datetime | None
    body: bytes | None
    rows: int
    part_id: str | None
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    skipped_existing: int = 0
    slow_lines: int = 0


def _event_id(line: bytes) -> str:
    start = 14 if line.startswith(b"?") else 13
    return line[start : start + 36].decode("ascii")


def sorted_part(lines: list[bytes]) -> tuple[bytes, str]:
    """Canonical lines -> (body in event_id order, part id over those ids).

    Every canonical line starts with ``{"event_id":"<uuid>``, so sorting the lines as bytes sorts
    them by event id; the id equals :func:`tasks.layout.part_id` of the sorted ids.
    """
    lines.sort()
    ids = b"\n".join(line[13:49] for line in lines) + b"\n"
    return b"\n".join(lines) + b"\n", hashlib.sha256(ids).hexdigest()[:PART_ID_LENGTH]


def prepare_group(
    group: PartitionGroup,
    *,
    ingested_at: datetime,
    existing: frozenset[str] | set[str] | None = None,
    quarantined: frozenset[str] | set[str] = frozenset(),
) -> PreparedPart:
    """Check, compact, order and (where needed) judge a group's rows; drop rows Bronze holds.

    Args:
        existing: event ids already in Bronze parts of this partition-hour (None: the hour has no
            parts, the common case).
        quarantined: event ids already in this origin's quarantine.
    """
    body = group.lines.encode("utf-8")
    hour = group.hour_start
    profile = text_profile(group.event_type) if SOURCE_OF.get(group.event_type) == group.source else None
    if (
        existing is None
        and not quarantined
        and profile is not None
        and hour is not None
        and text_checks_pass(body, group.rows_read, profile)
    ):
        data, pid = sorted_part(compact(body).split(b"\n")[:-1])
        return PreparedPart(group.source, group.event_type, hour, data, group.rows_read, pid)
    return _prepare_line_by_line(
        group, body, hour, profile, ingested_at, existing or frozenset(), quarantined
    )


def _prepare_line_by_line(
    group: PartitionGroup,
    body: bytes,
    hour: datetime | None,
    profile: TextProfile | None,
    ingested_at: datetime,
    existing: frozenset[str] | set[str],
    quarantined: frozenset[str] | set[str],
) -> PreparedPart:
    out: list[bytes] = []
    entries: list[dict[str, Any]] = []
    skipped = slow = 0
    # split on "\n" only: JSON escapes newlines inside strings, but not U+2028 and friends
    for line in body.split(b"\n")[:-1]:
        event_id = _event_id(line)
        if event_id in existing or event_id in quarantined:
            skipped += 1
            continue
        if profile is not None and hour is not None and text_checks_pass(line, 1, profile):
            out.append(compact(line))
            continue
        slow += 1
        verdict = judge_line(line.decode("utf-8"), ingested_at=ingested_at)
        if verdict.line is not None:
            out.append(verdict.line.encode("utf-8"))
        elif verdict.entry is not None:
            entries.append(verdict.entry)
    entries.sort(key=lambda e: str(e["record"].get("event_id")))
    if not out:
        return PreparedPart(group.source, group.event_type, hour, None, 0, None, entries, skipped, slow)
    data, pid = sorted_part(out)
    return PreparedPart(group.source, group.event_type, hour, data, len(out), pid, entries, skipped, slow)

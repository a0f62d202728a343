"""Turning one hourly partition group of a chunk into the Bronze part to write.

The chunk query (``sql/backfill_chunk.sql``) hands over a partition's rows as one string of lines,
with jsonb's own payload text. The common case stays in C: whole-string checks prove every row
satisfies the contract and is canonical, jsonb's spaced separators are compacted with two
replaces, and the lines are sorted by event id (a part holds a set of events in event_id order;
its id is the hash of those ids, so the same rows get the same key whatever order the database
returned them in). Each line is byte for byte ``dumps_record(Envelope.to_bronze(ingested_at))``.
When a check is not satisfied, or the hour already holds Bronze objects, the group is walked line
by line, and only the lines in doubt are parsed and judged by the contract
(:mod:`cardflow.bronze.quarantine`): a check that fails is never an error, only the slower path.

Why the whole-string checks are sound. jsonb prints ``": "`` after every key and ``", "`` between
members and escapes every quote inside strings; the envelope around the payload is compact. So
with ``n`` rows of one event type whose contract has ``k`` keys (decimals count their two) and
``c`` member separators, exactly ``n*k`` occurrences of ``": "`` and ``n*c`` of ``", "`` mean no
extra key anywhere and no such sequence inside a string: then ``"sku": "`` can only be the key sku
followed by a string, the replaces touch only separators, and counting ``"key": <start of value>``
patterns types every field of every row (each row holds each key at most once). Exactly two dots
per row plus one per timestamp field means no number has a fraction (json.loads would give a
float) and every timestamp has just its fraction dot; ``{`` exactly twice per row plus once per
decimal, and no ``[``, leaves no nesting a field could hide in. With digits mapped to zero, ints read
``0``/``-0``, decimals ``{"scale": 0, "units": 0``, timestamps and dates the one canonical shape;
the distinct timestamp and date values are then parsed exactly as the contract parses them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from cardflow.bronze.quarantine import judge_line
from cardflow.contract import ORDER_STATUSES, PAYLOAD_FIELDS, SOURCE_OF
from cardflow.sources.eventstore.extract import PartitionGroup

PART_ID_LENGTH = 20
DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
#: dots in a canonical envelope outside the payload: inserted_at and ingested_at
ENVELOPE_DOTS = 2
TIMESTAMP_SHAPE = b"0000-00-00T00:00:00.000000+00:00"
DATE_SHAPE = b"0000-00-00"


Patterns = tuple[bytes, ...]


@dataclass(frozen=True)
class TextProfile:
    """What the text of canonical rows of one event type must show (see module docstring).

    ``counts``: (patterns, occurrences expected per row) counted in the text as is;
    ``zeroed_counts``: the same, counted after every digit is mapped to 0; ``calendar``: fields
    whose distinct values are parsed as the contract parses them.
    """

    keys: int
    separators: int
    dots: int
    braces: int
    counts: tuple[tuple[Patterns, int], ...]
    zeroed_counts: tuple[tuple[Patterns, int], ...]
    calendar: tuple[tuple[bytes, int, Callable[[str], object]], ...]


def _key(name: str) -> bytes:
    return b'"%s": ' % name.encode()


@cache
def text_profile(event_type: str) -> TextProfile | None:
    """The profile of ``event_type`` derived from the contract (None for unknown types)."""
    fields = PAYLOAD_FIELDS.get(event_type)
    if fields is None:
        return None
    counts: list[tuple[Patterns, int]] = [((b'"payload":{"',), 1)]
    zeroed: list[tuple[Patterns, int]] = []
    calendar: list[tuple[bytes, int, Callable[[str], object]]] = []
    for name, kind in fields.items():
        key = _key(name)
        if kind == "str":
            counts += [((key + b'"',), 1), ((key + b'""',), 0)]
        elif kind == "int":
            zeroed.append(((key + b"0", key + b"-0"), 1))
        elif kind == "decimal":  # one-digit scale; units an integer (the dot count rules out fractions)
            zeroed.append(((key + b'{"scale": 0, "units": 0', key + b'{"scale": 0, "units": -0'), 1))
        elif kind == "status":
            counts.append((tuple(key + b'"%s"' % s.encode() for s in ORDER_STATUSES), 1))
        elif kind == "timestamp":
            zeroed.append(((key + b'"' + TIMESTAMP_SHAPE + b'"',), 1))
            calendar.append((key + b'"', len(TIMESTAMP_SHAPE), datetime.fromisoformat))
        elif kind == "date":
            zeroed.append(((key + b'"' + DATE_SHAPE + b'"',), 1))
            calendar.append((key + b'"', len(DATE_SHAPE), date.fromisoformat))
        else:
            raise ValueError(f"no text check for field kind {kind!r} ({event_type}.{name})")
    decimals = sum(1 for kind in fields.values() if kind == "decimal")
    timestamps = sum(1 for kind in fields.values() if kind == "timestamp")
    return TextProfile(
        keys=len(fields) + 2 * decimals,
        separators=len(fields) - 1 + decimals,
        dots=ENVELOPE_DOTS + timestamps,
        braces=2 + decimals,
        counts=tuple(counts),
        zeroed_counts=tuple(zeroed),
        calendar=tuple(calendar),
    )


def _count(body: bytes, patterns: Patterns) -> int:
    return sum(body.count(p) for p in patterns)


def text_checks_pass(body: bytes, rows: int, profile: TextProfile) -> bool:
    """True when ``rows`` accepted lines in ``body`` certainly satisfy the contract and are
    canonical after :func:`compact` (False only means: judge line by line)."""
    if body.startswith(b"?") or b"\n?" in body:
        return False
    if body.count(b'": ') != rows * profile.keys or body.count(b", ") != rows * profile.separators:
        return False
    if body.count(b".") != rows * profile.dots:
        return False
    # no nested objects or arrays beyond the envelope, the payload and its decimals
    if body.count(b"{") != rows * profile.braces or b"[" in body:
        return False
    if any(_count(body, patterns) != rows * n for patterns, n in profile.counts):
        return False
    if profile.zeroed_counts:
        zeroed = body.translate(DIGITS_TO_ZERO)
        if any(_count(zeroed, patterns) != rows * n for patterns, n in profile.zeroed_counts):
            return False
    for prefix, width, parse in profile.calendar:
        distinct = {fragment[:width] for fragment in body.split(prefix)[1:]}
        try:
            for value in distinct:
                parse(value.decode("ascii"))
        except ValueError:
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
    them by event id; the id equals :func:`cardflow.bronze.layout.part_id` of the sorted ids.
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

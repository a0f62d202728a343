"""Turning one hourly partition group of a chunk into the Bronze part to write.

The chunk query (``sql/backfill_chunk.sql``) hands over a partition's rows as one string of lines,
with jsonb's payload text whose separators Postgres has already compacted (``": "`` -> ``":"``,
``", "`` -> ``","``: on the database's core, not under this process's GIL, where the two replaces
took about a third of a backfill's Python time). The common case is proven valid *row by row* by
one regular expression per event type, generated from the contract (:func:`text_profile`), then
the lines are sorted by event id (a part holds a set of events in event_id order; its id is the
hash of those ids, so the same rows get the same key whatever order the database returned them
in). Each line is byte for byte ``dumps_record(Envelope.to_bronze(ingested_at))``. When a line
does not match, or the hour already holds Bronze objects, the group is walked line by line and
only the lines in doubt are parsed and judged by the contract (:mod:`cardflow.bronze.quarantine`):
a failed match is never an error, only the slower path.

The compaction in the database also alters a string that holds ``", "`` or ``'\\": '`` (an
escaped quote before ``": "``). A line the expression accepts holds no string with a ``,``, ``"``
or ``\\``, so nothing in it was altered. A line in doubt is parsed; if one of its strings holds a
``,`` or a ``"`` (it may have been altered), its original text is read again from the event store
(:class:`~cardflow.sources.eventstore.extract.OriginalPayloads`) and judged instead, after
checking that it compacts to what the chunk returned.

Why the per-line match is sound. jsonb prints an object's keys sorted by length, then bytewise;
the compaction leaves ``":"`` after each key and ``","`` between members, as ``json.dumps`` with
compact separators does; the envelope around the payload is compact. The expression spells out
the whole line: the envelope, then exactly the contract's keys in jsonb order (so no key is
missing, repeated or extra, and nothing nests), each followed by a value of its kind: a non-empty
string with no ``"``, ``\\``, ``,`` or ``:`` inside (so the compaction cannot have touched it), an
integer of at most 18 digits, a decimal ``{"scale":0..18,"units":<at most 18 digits>}``, a status
of the contract, a canonical timestamp or date. The
values a pattern cannot judge are then checked exactly: timestamps and dates are parsed as the
contract parses them, and the Gold amounts (``quantity * price``) must stay within what the
warehouse holds (``cardflow.contract.AMOUNT_LIMIT``). Counting substrings over a whole group (the
former check) let one row's surplus cancel another's deficit; a match per line cannot.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from cardflow.bronze.quarantine import judge_line
from cardflow.contract import AMOUNT_LIMIT, GOLD_PRODUCTS, ORDER_STATUSES, PAYLOAD_FIELDS, SOURCE_OF, amount_in_range
from cardflow.errors import EventStoreError
from cardflow.sources.eventstore.extract import PartitionGroup

OriginalPayloadReader = Callable[[Sequence[tuple[str, str]]], Mapping[str, str]]
"""``[(inserted_at, event_id), ...] -> {event_id: payload text}``: the event store's own text
(:class:`~cardflow.sources.eventstore.extract.OriginalPayloads`)."""

PART_ID_LENGTH = 20
#: dots in a canonical envelope outside the payload: inserted_at and ingested_at
ENVELOPE_DOTS = 2


#: a string value the compaction cannot alter: no quote, backslash, comma or colon inside
_STR = rb'"[^"\\,:\x00-\x1f]+"'
_INT = rb"-?[0-9]{1,18}"
_TIMESTAMP = rb'"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00)"'
_DATE = rb'"([0-9]{4}-[0-9]{2}-[0-9]{2})"'
_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ENVELOPE_TS = rb'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00"'

# The strict whole-body pattern's calendar: a year that is not 0000, a month and a day that exist
# in every year (February 29 is left to the exact per-line check), a time of day without leap
# seconds. What it accepts, ``datetime.fromisoformat``/``date.fromisoformat`` accept too.
_YEAR = rb"(?!0000)[0-9]{4}"
_MONTH_DAY = (
    rb"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    rb"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    rb"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_STRICT_DATE = rb'"' + _YEAR + b"-" + _MONTH_DAY + rb'"'
_STRICT_TIMESTAMP = (
    rb'"' + _YEAR + b"-" + _MONTH_DAY + rb"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}\+00:00\""
)


@dataclass(frozen=True)
class TextProfile:
    """The per-line expression of canonical rows of one event type (see module docstring).

    ``strict`` matches a whole body of such lines (each ending in a newline) in one call, with no
    groups and nothing left to check afterwards: exact calendar values except February 29, and
    Gold amounts whose digit counts alone keep them below the limit. It accepts a subset of what
    ``pattern`` plus its checks accept, so a body it rejects is only checked line by line.

    ``pattern`` matches one whole line; its groups: one per timestamp/date field (parsed exactly
    afterwards, by ``calendar``), and for types with a Gold amount the integer and the decimal's
    scale and units (``amount``: group numbers). ``keys``/``separators``/``dots`` describe the
    canonical text (kept for diagnostics and tests).
    """

    keys: int
    separators: int
    dots: int
    pattern: re.Pattern[bytes]
    strict: re.Pattern[bytes]
    calendar: tuple[tuple[int, Callable[[str], object]], ...]
    amount: tuple[int, int, int] | None


def _jsonb_order(names: list[str]) -> list[str]:
    """jsonb's key order: shorter keys first, then bytewise."""
    return sorted(names, key=lambda n: (len(n.encode()), n.encode()))


@cache
def text_profile(event_type: str) -> TextProfile | None:
    """The profile of ``event_type`` derived from the contract (None for unknown types)."""
    fields = PAYLOAD_FIELDS.get(event_type)
    if fields is None:
        return None
    parts: list[bytes] = []
    strict_parts: list[bytes] = []
    count_digits, units_digits = _amount_digits()
    gold_count, gold_decimal = GOLD_PRODUCTS.get(event_type, (None, None))
    calendar: list[tuple[int, Callable[[str], object]]] = []
    group_of: dict[str, int] = {}
    groups = 0
    for name in _jsonb_order(list(fields)):
        kind = fields[name]
        key = re.escape(b'"%s":' % name.encode())
        if kind == "str":
            value = strict = _STR
        elif kind == "int":
            groups += 1
            group_of[name] = groups
            value = b"(" + _INT + b")"
            strict = rb"-?[0-9]{1,%d}" % count_digits if name == gold_count else _INT
        elif kind == "decimal":
            groups += 2
            group_of[name] = groups - 1
            value = rb'\{"scale":([0-9]|1[0-8]),"units":(' + _INT + rb")\}"
            units = rb"-?[0-9]{1,%d}" % units_digits if name == gold_decimal else _INT
            strict = rb'\{"scale":(?:[0-9]|1[0-8]),"units":' + units + rb"\}"
        elif kind == "status":
            value = strict = b'"(?:' + b"|".join(re.escape(s.encode()) for s in ORDER_STATUSES) + b')"'
        elif kind == "timestamp":
            groups += 1
            calendar.append((groups, datetime.fromisoformat))
            value, strict = _TIMESTAMP, _STRICT_TIMESTAMP
        elif kind == "date":
            groups += 1
            calendar.append((groups, date.fromisoformat))
            value, strict = _DATE, _STRICT_DATE
        else:
            raise ValueError(f"no text check for field kind {kind!r} ({event_type}.{name})")
        parts.append(key + value)
        strict_parts.append(key + strict)
    source = SOURCE_OF[event_type].encode()
    head = (
        rb'\{"event_id":"' + _UUID + rb'","source":"' + re.escape(source) + rb'","event_type":"'
        + re.escape(event_type.encode()) + rb'","payload":\{'
    )
    tail = rb'\},"inserted_at":' + _ENVELOPE_TS + rb',"ingested_at":' + _ENVELOPE_TS + rb"\}"
    line = head + b",".join(parts) + tail
    strict_line = head + b",".join(strict_parts) + tail
    amount = None
    if event_type in GOLD_PRODUCTS:
        count, decimal = GOLD_PRODUCTS[event_type]
        amount = (group_of[count], group_of[decimal], group_of[decimal] + 1)
    decimals = sum(1 for kind in fields.values() if kind == "decimal")
    timestamps = sum(1 for kind in fields.values() if kind == "timestamp")
    return TextProfile(
        keys=len(fields) + 2 * decimals,
        separators=len(fields) - 1 + decimals,
        dots=ENVELOPE_DOTS + timestamps,
        pattern=re.compile(line),
        strict=re.compile(b"(?:" + strict_line + b"\n)*"),
        calendar=tuple(calendar),
        amount=amount,
    )


def _amount_digits() -> tuple[int, int]:
    """Digit counts of a Gold product's integer and decimal units whose product always stays below
    :data:`AMOUNT_LIMIT` (|count| < 10**a and |units| < 10**b give |amount| < 10**(a+b) at scale 0)."""
    limit_digits = len(str(int(AMOUNT_LIMIT))) - 1  # AMOUNT_LIMIT == 10**limit_digits
    count = min(9, limit_digits - 1)
    return count, min(18, limit_digits - count)


def _line_ok(match: re.Match[bytes] | None, profile: TextProfile) -> bool:
    if match is None:
        return False
    try:
        for group, parse in profile.calendar:
            parse(match.group(group).decode("ascii"))
    except ValueError:
        return False
    if profile.amount is not None:
        count, scale, units = (int(match.group(g)) for g in profile.amount)
        if not amount_in_range(units, scale, count):
            return False
    return True


def text_checks_pass(body: bytes, rows: int, profile: TextProfile) -> bool:
    """True when each of the ``rows`` lines in ``body`` certainly satisfies the contract and is
    canonical (False only means: judge line by line)."""
    if body.count(b"\n") == rows and (not body or body.endswith(b"\n")) and profile.strict.fullmatch(body):
        return True
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != rows:
        return False
    fullmatch = profile.pattern.fullmatch
    return all(_line_ok(fullmatch(line), profile) for line in lines)


def compact(body: bytes) -> bytes:
    """jsonb's spaced separators to json.dumps' compact ones, as the chunk query's two
    ``replace`` calls do (they also alter strings holding ``", "`` or ``'\\": '``)."""
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
    originals: OriginalPayloadReader | None = None,
) -> PreparedPart:
    """Check, order and (where needed) judge a group's rows; drop rows Bronze holds.

    Args:
        existing: event ids already in Bronze parts of this partition-hour (None: the hour has no
            parts, the common case).
        quarantined: event ids already in this origin's quarantine.
        originals: reads the original payload text of lines the compaction may have altered
            (see the module doc); None when the group cannot hold one (a test's own lines).

    Raises:
        EventStoreError: a line needs its original text and ``originals`` is None, or the event
            store no longer holds what the chunk read.
    """
    body = group.lines
    hour = group.hour_start
    profile = text_profile(group.event_type) if SOURCE_OF.get(group.event_type) == group.source else None
    if (
        existing is None
        and not quarantined
        and profile is not None
        and hour is not None
        and text_checks_pass(body, group.rows_read, profile)
    ):
        data, pid = sorted_part(body.split(b"\n")[:-1])
        return PreparedPart(group.source, group.event_type, hour, data, group.rows_read, pid)
    return _prepare_line_by_line(
        group, body, hour, profile, ingested_at, existing or frozenset(), quarantined, originals
    )


def _prepare_line_by_line(
    group: PartitionGroup,
    body: bytes,
    hour: datetime | None,
    profile: TextProfile | None,
    ingested_at: datetime,
    existing: frozenset[str] | set[str],
    quarantined: frozenset[str] | set[str],
    originals: OriginalPayloadReader | None,
) -> PreparedPart:
    out: list[bytes] = []
    entries: list[dict[str, Any]] = []
    doubtful: list[tuple[bytes, tuple[int, int]]] = []  # (line, where its payload text is)
    skipped = slow = 0
    # split on "\n" only: JSON escapes newlines inside strings, but not U+2028 and friends
    for line in body.split(b"\n")[:-1]:
        event_id = _event_id(line)
        if event_id in existing or event_id in quarantined:
            skipped += 1
            continue
        if profile is not None and hour is not None and text_checks_pass(line, 1, profile):
            out.append(line)
            continue
        slow += 1
        if not line.startswith(b"?"):
            span = _payload_span(line)
            if _may_be_altered(line, span):
                doubtful.append((line, span))
                continue
        _judge(line, ingested_at, out, entries)
    for line in _with_original_payloads(doubtful, originals):
        _judge(line, ingested_at, out, entries)
    entries.sort(key=lambda e: str(e["record"].get("event_id")))
    if not out:
        return PreparedPart(group.source, group.event_type, hour, None, 0, None, entries, skipped, slow)
    data, pid = sorted_part(out)
    return PreparedPart(group.source, group.event_type, hour, data, len(out), pid, entries, skipped, slow)


def _judge(line: bytes, ingested_at: datetime, out: list[bytes], entries: list[dict[str, Any]]) -> None:
    """The contract's verdict on one line: its canonical rendering, or a quarantine entry."""
    verdict = judge_line(line.decode("utf-8"), ingested_at=ingested_at)
    if verdict.line is not None:
        out.append(verdict.line.encode("utf-8"))
    elif verdict.entry is not None:
        entries.append(verdict.entry)


#: what precedes a canonical line's payload and follows it (the envelope the chunk query renders)
_PAYLOAD_KEY = b',"payload":'
_AFTER_PAYLOAD = b',"inserted_at":"'


def _payload_span(line: bytes) -> tuple[int, int]:
    """Where a canonical line's payload text starts and ends. The envelope before it holds only a
    uuid and the contract's names, and the one after it is the line's last ``inserted_at``."""
    return line.index(_PAYLOAD_KEY) + len(_PAYLOAD_KEY), line.rindex(_AFTER_PAYLOAD)


def _may_be_altered(line: bytes, span: tuple[int, int]) -> bool:
    """Whether the compaction may have altered one of the line's payload strings (at ``span``): it
    holds a ``,`` or a ``"`` (a ``", "`` left a comma; a ``'\\": '`` left a quote)."""
    start, end = span
    try:
        return _has_altered_string(json.loads(line[start:end]))
    except ValueError:  # jsonb's text compacted is JSON; if not, the original text decides
        return True


def _has_altered_string(value: Any) -> bool:
    if isinstance(value, str):
        return "," in value or '"' in value
    if isinstance(value, dict):
        return any(_has_altered_string(k) or _has_altered_string(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_altered_string(v) for v in value)
    return False


def _with_original_payloads(
    lines: list[tuple[bytes, tuple[int, int]]], originals: OriginalPayloadReader | None
) -> list[bytes]:
    """The lines with their payload text (at each one's span) as the event store holds it,
    checked against the chunk."""
    if not lines:
        return []
    if originals is None:
        raise EventStoreError(f"{len(lines)} line(s) need their original payload text and no reader was given")
    keys = [(_inserted_at(line, end), _event_id(line)) for line, (_, end) in lines]
    texts = originals(keys)
    restored = []
    for (line, (start, end)), (_, event_id) in zip(lines, keys, strict=True):
        text = texts.get(event_id)
        if text is None:
            raise EventStoreError(f"event {event_id} is no longer in the event store (it was read by this chunk)")
        original = text.encode("utf-8")
        if compact(original) != line[start:end]:
            raise EventStoreError(f"event {event_id} changed in the event store while the backfill read it")
        restored.append(line[:start] + original + line[end:])
    return restored


def _inserted_at(line: bytes, payload_end: int) -> str:
    """A canonical line's ``inserted_at`` text (the envelope's, right after its payload)."""
    start = payload_end + len(_AFTER_PAYLOAD)
    return line[start : line.index(b'"', start)].decode("ascii")

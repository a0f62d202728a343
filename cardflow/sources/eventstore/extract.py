"""Streaming extraction from the Postgres event store, for the backfill.

Rows are read in keyset chunks on ``(inserted_at, event_id)`` (the table's index), one bounded
chunk at a time, never the whole table: a chunk's end is found with an index scan
(``OFFSET chunk-1``) and the chunk itself comes back through a server-side cursor as one row per
hourly Bronze partition (``sql/backfill_chunk.sql``).

Postgres renders every row as an NDJSON line of the Bronze record (the payload's separators
compacted on its core) and groups them by partition, so Python handles a partition's rows as one
string (whole-text contract checks, ordering, gzip) instead of one by one. Rows that a fast check
is unsure about are judged by :func:`cardflow.contract.validate_envelope`
(:mod:`cardflow.sources.eventstore.partitions`, :mod:`cardflow.bronze.quarantine`): every row is
checked against the contract, the fast path only decides how cheaply.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from cardflow.contract import SOURCE_OF, format_timestamp, parse_timestamp
from cardflow.errors import EventStoreError
from cardflow.settings import Settings
from cardflow.sources.eventstore import store as eventstore
from cardflow.sqlfiles import read_sql

logger = logging.getLogger(__name__)

MIN_UUID = "00000000-0000-0000-0000-000000000000"
MAX_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
#: Postgres sorts before every real timestamp; as text it also sorts before canonical timestamps.
MINUS_INFINITY = "-infinity"
#: server-side sort/aggregate memory of the extraction session (Postgres memory, not ours)
SESSION_WORK_MEM = "128MB"


@dataclass(frozen=True, order=True)
class Position:
    """A keyset position ``(inserted_at, event_id)``: canonical UTC text and lowercase uuid text.

    Canonical timestamps (:func:`format_timestamp`) have a fixed width, so comparing positions as
    strings orders them exactly as Postgres orders the keys.
    """

    inserted_at: str
    event_id: str

    @classmethod
    def of(cls, ts: datetime, event_id: str) -> Position:
        return cls(format_timestamp(ts), str(event_id))

    @classmethod
    def just_before(cls, ts: datetime) -> Position:
        """The exclusive lower bound that lets every row with ``inserted_at >= ts`` through."""
        return cls(format_timestamp(ts - timedelta(microseconds=1)), MAX_UUID)

    @property
    def timestamp(self) -> datetime | None:
        return None if self.inserted_at == MINUS_INFINITY else parse_timestamp(self.inserted_at)

    def as_dict(self) -> dict[str, str]:
        return {"inserted_at": self.inserted_at, "event_id": self.event_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Position | None:
        if not data:
            return None
        return cls(str(data["inserted_at"]), str(data["event_id"]))

    def params(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}_ts": self.inserted_at, f"{prefix}_id": self.event_id}


BEGINNING = Position(MINUS_INFINITY, MIN_UUID)


@dataclass(frozen=True)
class PartitionGroup:
    """The rows of one chunk that fall in one hourly partition ``(source, event_type, hour)``.

    ``lines`` holds one NDJSON line per row as UTF-8 bytes (in no particular order), each ending
    with a newline: rows the SQL check accepted start with ``{`` and carry the payload as jsonb's
    text with its separators compacted (which also alters strings holding ``", "``: see
    :mod:`~cardflow.sources.eventstore.partitions`); the others start with ``?{`` and carry raw
    values. ``hour`` is None only for rows whose inserted_at is not a finite timestamp.
    """

    source: str
    event_type: str
    hour: str | None  # 'YYYY-MM-DDTHH' (UTC)
    rows_read: int
    lines: bytes

    @property
    def hour_start(self) -> datetime | None:
        if self.hour is None:
            return None
        return datetime.strptime(self.hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)


# --- SQL composed from the contract -----------------------------------------------------------
def _literal(text: str) -> str:
    """A SQL string literal for our own constants (the contract's source and event type names)."""
    if "'" in text or "\\" in text:
        raise ValueError(f"unexpected character in {text!r}")
    return f"'{text}'"


@cache
def contract_pairs_sql() -> str:
    """The (source, event_type) pairs of the contract as a SQL row list."""
    return ", ".join(f"({_literal(source)}, {_literal(t)})" for t, source in SOURCE_OF.items())


@cache
def chunk_query(table: str) -> str:
    """The chunk query for ``table`` (a validated identifier)."""
    return read_sql("backfill_chunk.sql", __file__).format(table=f'"{table}"', pairs=contract_pairs_sql())


@cache
def original_payloads_query(table: str) -> str:
    """The query of some rows' original payload text for ``table`` (a validated identifier)."""
    return read_sql("original_payloads.sql", __file__).format(table=f'"{table}"')


# --- session ----------------------------------------------------------------------------------
def prepare_session(conn: psycopg2.extensions.connection) -> None:
    """UTC session time zone, enough memory for one chunk's aggregates, and plans for a busy box.

    ``jit = off``: compiling a chunk query costs more than it saves at chunk size.
    ``max_parallel_workers_per_gather = 0``: the backfill already runs one backend per extraction
    connection; parallel workers on top compete with them and with the writer for the same cores.
    ``enable_sort = off``: the planner misjudges a chunk's partition groups (about 150 groups, it
    guesses one per row) and sorts every wide row to aggregate them; hashing them is cheaper. The
    small final ``ORDER BY`` still sorts (the setting only makes other plans preferred).
    """
    conn.set_client_encoding("UTF8")  # the lines arrive as UTF-8 bytes (iter_groups)
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute(f"SET work_mem = '{SESSION_WORK_MEM}'")
        cur.execute("SET jit = off")
        cur.execute("SET max_parallel_workers_per_gather = 0")
        cur.execute("SET enable_sort = off")
    conn.commit()


@contextmanager
def extraction_session(settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A prepared, read-only connection to the event store (closed on exit).

    The session runs with ``default_transaction_read_only=on``: the backfill only reads, so it works
    on a hot standby and as a user with nothing but SELECT on the events table.
    """
    with eventstore.connect(settings, read_only=True) as conn:
        prepare_session(conn)
        yield conn


# --- ranges -----------------------------------------------------------------------------------
def _table(settings: Settings) -> sql.Identifier:
    return sql.Identifier(settings.events_table)


# The key queries below name the table's columns through an alias (``e.event_id``): a bare
# ``ORDER BY event_id`` would sort by the *output* column ``event_id::text``, which no index
# provides, and Postgres would sort the whole range (with parallel workers) instead of walking the
# (inserted_at, event_id) index.


def last_position(
    conn: psycopg2.extensions.connection, settings: Settings, *, before: datetime | None = None
) -> Position | None:
    """The greatest key (with ``inserted_at < before`` when given): the run's fixed upper bound."""
    where = sql.SQL("WHERE e.inserted_at < %(before)s") if before else sql.SQL("")
    query = sql.SQL(
        "SELECT e.inserted_at, e.event_id::text FROM {} AS e {} "
        "ORDER BY e.inserted_at DESC, e.event_id DESC LIMIT 1"
    )
    with conn.cursor() as cur:
        cur.execute(query.format(_table(settings), where), {"before": before})
        row = cur.fetchone()
    conn.commit()
    return Position.of(row[0], row[1]) if row else None


def first_position(
    conn: psycopg2.extensions.connection, settings: Settings, lo: Position, hi: Position
) -> Position | None:
    """The smallest key in ``(lo, hi]`` (None when the range is empty)."""
    query = sql.SQL(
        "SELECT e.inserted_at, e.event_id::text FROM {} AS e "
        "WHERE (e.inserted_at, e.event_id) > (%(lo_ts)s::timestamptz, %(lo_id)s::uuid) "
        "AND (e.inserted_at, e.event_id) <= (%(hi_ts)s::timestamptz, %(hi_id)s::uuid) "
        "ORDER BY e.inserted_at, e.event_id LIMIT 1"
    )
    with conn.cursor() as cur:
        cur.execute(query.format(_table(settings)), lo.params("lo") | hi.params("hi"))
        row = cur.fetchone()
    conn.commit()
    return Position.of(row[0], row[1]) if row else None


def chunk_end(
    conn: psycopg2.extensions.connection, settings: Settings, lo: Position, hi: Position, chunk_size: int
) -> Position:
    """The key that closes the next chunk of at most ``chunk_size`` rows after ``lo`` (index scan)."""
    query = sql.SQL(
        "SELECT e.inserted_at, e.event_id::text FROM {} AS e "
        "WHERE (e.inserted_at, e.event_id) > (%(lo_ts)s::timestamptz, %(lo_id)s::uuid) "
        "AND (e.inserted_at, e.event_id) <= (%(hi_ts)s::timestamptz, %(hi_id)s::uuid) "
        "ORDER BY e.inserted_at, e.event_id OFFSET %(skip)s LIMIT 1"
    )
    with conn.cursor() as cur:
        params = lo.params("lo") | hi.params("hi") | {"skip": chunk_size - 1}
        cur.execute(query.format(_table(settings)), params)
        row = cur.fetchone()
    conn.commit()
    return Position.of(row[0], row[1]) if row else hi


def _text(value: Any) -> Any:
    """A text column's value as ``str`` (None stays None: a NULL source or event type is judged later)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def iter_groups(
    conn: psycopg2.extensions.connection,
    settings: Settings,
    lo: Position,
    hi: Position,
    *,
    ingested_at: datetime,
) -> Iterator[PartitionGroup]:
    """Stream the partition groups of the rows in ``(lo, hi]``, in (hour, source, event_type) order.

    A server-side cursor brings a few groups per round trip, so memory holds at most a handful of
    hourly partitions of one chunk. Text columns arrive as the connection's UTF-8 bytes: the lines
    are checked and written as bytes, and decoding a chunk's text to ``str`` only to encode it
    again held the GIL the upload threads need (about a tenth of a backfill's Python time).
    """
    params = lo.params("lo") | hi.params("hi") | {"ingested_at": format_timestamp(ingested_at)}
    with conn.cursor(name="cardflow_backfill_chunk") as cur:
        psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cur)
        cur.itersize = 4
        cur.execute(chunk_query(settings.events_table), params)
        for source, event_type, hour, rows_read, lines in cur:
            yield PartitionGroup(
                source=_text(source),
                event_type=_text(event_type),
                hour=_text(hour),
                rows_read=int(rows_read),
                lines=lines,
            )
    conn.commit()


class OriginalPayloads:
    """The event store's own payload text of given rows: ``reader([(inserted_at, event_id), ...])``
    -> ``{event_id: text}``.

    The chunk query compacts each payload's separators in Postgres, which also alters a string
    holding ``", "`` or ``'": '``; the few lines that cannot be proven untouched are judged on the
    original text this reads (:mod:`cardflow.sources.eventstore.partitions`). Rows are immutable
    in the event store, so reading them again gives what the chunk read. One read-only connection,
    opened on the first call (most runs never make one) and shared by the upload threads under a
    lock (a connection runs one statement at a time); :meth:`close` closes it.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._session = ExitStack()
        self._conn: psycopg2.extensions.connection | None = None

    def __call__(self, keys: Sequence[tuple[str, str]]) -> dict[str, str]:
        if not keys:
            return {}
        params = {"inserted_at": [k[0] for k in keys], "event_id": [k[1] for k in keys]}
        with self._lock:
            if self._conn is None:
                self._conn = self._session.enter_context(extraction_session(self._settings))
            try:
                with self._conn.cursor() as cur:
                    cur.execute(original_payloads_query(self._settings.events_table), params)
                    rows = cur.fetchall()
                self._conn.commit()
            except psycopg2.Error as exc:
                self._conn = None
                self._session.close()  # a broken connection is not reused; the next call reconnects
                raise EventStoreError(f"cannot read {len(keys)} original payloads: {exc}") from exc
        return {str(event_id): str(payload) for event_id, payload in rows}

    def close(self) -> None:
        with self._lock:
            self._conn = None
            self._session.close()

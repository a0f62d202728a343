"""The Postgres event store: connection (real server or embedded ``pgserver``) and its schema.

With no POSTGRES_HOST, an embedded PostgreSQL runs from ``CARDFLOW_DATA_DIR/pgdata`` (started on
first use, about half a second); otherwise the configured server is used.

Connecting never runs DDL: the event store belongs to the producers, and the backfill must work
from a read replica or as a user that may only SELECT. The schema (the database named by
POSTGRES_DB, the ``events`` table and its ``(inserted_at, event_id)`` keyset index, as in
``sql/event_store_ddl.sql``) is created only by :func:`bootstrap_event_store`, which
``cardflow bootstrap``, ``cardflow generate`` and the demo call. Readers connect with
``read_only=True`` and check the schema with :func:`require_events_table`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from cardflow.contract import parse_timestamp
from cardflow.errors import BootstrapError, ContractViolation, EventsRejected, EventStoreError
from cardflow.settings import Settings, get_settings
from cardflow.sqlfiles import read_sql, split_statements

logger = logging.getLogger(__name__)

#: the DDL a DBA can run by hand (``{table}`` is the CARDFLOW_EVENTS_TABLE identifier)
DDL_FILE = "sql/event_store_ddl.sql"
#: the columns the backfill's keyset chunks are read in, in index order
KEYSET_COLUMNS = ("inserted_at", "event_id")
#: what to do when the schema is missing (the least-privilege reader cannot create it)
REMEDY = (
    f"run `cardflow bootstrap --event-store` as a user allowed to create it, or have a DBA apply {DDL_FILE}"
)
#: libpq options of a reader's session: every transaction is read-only, so no write can slip through
READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"

_embedded: dict[str, Any] = {}


def _embedded_server(settings: Settings) -> Any:
    """Start (once per process) the embedded PostgreSQL under the data directory.

    pgserver is asked to leave the postmaster running when this process exits (``cleanup_mode=None``):
    its own reference counting stops it only when every process that ever opened it has exited
    cleanly, and a crashed one pins it forever. Whoever starts the process that uses the embedded
    store (the CLI, the test fixtures) stops it explicitly with :func:`stop_embedded`.
    """
    import pgserver

    key = str(settings.pgdata_dir)
    if key not in _embedded:
        settings.pgdata_dir.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", settings.pgdata_dir)
        _embedded[key] = pgserver.get_server(settings.pgdata_dir, cleanup_mode=None)
    return _embedded[key]


def stop_embedded() -> list[str]:
    """Stop every embedded PostgreSQL this process started or attached to (fast shutdown).

    Connections still open are closed by the server; the data directory stays, so the next start
    finds the same events. Does nothing if no embedded server was used.

    Returns:
        The data directories whose server was stopped.
    """
    stopped = []
    for key, server in list(_embedded.items()):
        del _embedded[key]
        server.global_process_id_list.get_and_remove(os.getpid())
        type(server)._instances.pop(server.pgdata, None)
        if stop_embedded_at(server.pgdata):
            stopped.append(key)
    return stopped


def stop_embedded_at(pgdata: Path) -> bool:
    """Stop the embedded PostgreSQL running on ``pgdata``, whoever started it (a worker's flow run,
    a crashed process). Does nothing (returns False) if none runs there."""
    import psutil
    from pgserver import pg_ctl
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    owner = psutil.Process(info.pid).username()
    try:
        # pg_ctl runs as the server's owner (pgserver runs it as 'pgserver' when we are root);
        # from / so that a private working directory cannot make it fail
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=owner, timeout=60, cwd="/")
    except Exception as exc:  # pg_ctl failed or hung: make sure the postmaster goes
        logger.info("pg_ctl stop of %s failed (%s); terminating the postmaster", pgdata, exc)
        try:
            info.process.terminate()
            info.process.wait(10)
        except psutil.Error as gone:
            logger.warning("embedded PostgreSQL in %s could not be stopped: %s", pgdata, gone)
            return False
    logger.info("stopped embedded PostgreSQL in %s", pgdata)
    return True


def server_params(settings: Settings, database: str | None = None) -> dict[str, Any]:
    """psycopg2 connection keyword arguments for the configured (or embedded) server."""
    if settings.uses_embedded_postgres:
        server = _embedded_server(settings)
        from urllib.parse import parse_qs, urlparse

        uri = urlparse(server.get_uri())
        # pgserver uses a unix socket: its URI is postgresql://postgres:@/postgres?host=/path
        host = uri.hostname or parse_qs(uri.query).get("host", [""])[0]
        return {"host": host, "port": uri.port or 5432, "user": "postgres", "dbname": database or settings.postgres_db}
    params: dict[str, Any] = {
        "host": settings.postgres_host,
        "port": settings.postgres_port,
        "user": settings.postgres_user,
        "dbname": database or settings.postgres_db,
    }
    if settings.postgres_password:
        params["password"] = settings.postgres_password.get_secret_value()
    return params


def describe(settings: Settings) -> str:
    """Where the event store is, for logs and summaries (never includes the password)."""
    p = server_params(settings)
    kind = "embedded" if settings.uses_embedded_postgres else "server"
    return f"postgresql ({kind}) {p['host']}:{p['port']}/{p['dbname']} table {settings.events_table}"


def keyset_index_name(settings: Settings) -> str:
    """The name ``sql/event_store_ddl.sql`` gives the ``(inserted_at, event_id)`` index."""
    return f"{settings.events_table}_inserted_at_event_id_idx"


@contextmanager
def connect(settings: Settings | None = None, *, read_only: bool = False) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the event store; closed on exit. Never creates or changes anything.

    Args:
        settings: cardflow settings; defaults to :func:`get_settings`.
        read_only: open the session with ``default_transaction_read_only=on`` (the backfill and
            the reconciliation only read; this also lets them run on a hot standby).

    Raises:
        EventStoreError: the server cannot be reached, or the database does not exist (with the
            bootstrap remedy).
    """
    settings = settings or get_settings()
    params = server_params(settings)
    if read_only:
        params["options"] = READ_ONLY_OPTIONS
    try:
        conn = psycopg2.connect(**params, connect_timeout=10, application_name="cardflow")
    except psycopg2.OperationalError as exc:
        if f'database "{settings.postgres_db}" does not exist' in str(exc):
            raise EventStoreError(
                f"the event store database {settings.postgres_db!r} does not exist ({describe(settings)}); "
                f"{REMEDY}"
            ) from exc
        raise EventStoreError(
            f"cannot connect to the event store ({describe(settings)}): {exc}. Check POSTGRES_HOST/PORT/"
            "USER/PASSWORD, or unset POSTGRES_HOST to use the embedded store."
        ) from exc
    try:
        yield conn
    finally:
        conn.close()


# --- schema -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaState:
    """Which parts of the event store schema exist (read from the catalog; needs no privilege)."""

    table: bool
    keyset_index: str | None
    """name of an index whose leading columns are (inserted_at, event_id), if any"""

    @property
    def complete(self) -> bool:
        return self.table and self.keyset_index is not None


def inspect_schema(conn: psycopg2.extensions.connection, settings: Settings) -> SchemaState:
    """Look up the events table and a keyset index on it, whatever the index is called."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)::oid", (sql.Identifier(settings.events_table).as_string(conn),))
        row = cur.fetchone()
        table_oid = row[0] if row else None
        index = None
        if table_oid is not None:
            cur.execute(
                """
                SELECT c.relname
                FROM pg_index i
                JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = %s
                  AND i.indnatts >= 2
                  AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM unnest(i.indkey[0:1]) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
                      = %s::text[]
                ORDER BY c.relname
                LIMIT 1
                """,
                (table_oid, list(KEYSET_COLUMNS)),
            )
            found = cur.fetchone()
            index = found[0] if found else None
    conn.commit()
    return SchemaState(table=table_oid is not None, keyset_index=index)


def require_events_table(
    conn: psycopg2.extensions.connection, settings: Settings, *, keyset_index: bool = True
) -> SchemaState:
    """Check that the events table (and, by default, its keyset index) exists, before any work.

    Raises:
        EventStoreError: naming what is missing and the remedy (``cardflow bootstrap --event-store``
            or ``sql/event_store_ddl.sql`` for a DBA). Without the index every keyset chunk would
            scan the producers' table, so its absence is an error, not a slow path.
    """
    state = inspect_schema(conn, settings)
    where = f"database {conn.info.dbname!r} on {conn.info.host}:{conn.info.port}"
    if not state.table:
        raise EventStoreError(f"the event store table {settings.events_table!r} does not exist in {where}; {REMEDY}")
    if keyset_index and state.keyset_index is None:
        raise EventStoreError(
            f"the event store table {settings.events_table!r} in {where} has no index on "
            f"({', '.join(KEYSET_COLUMNS)}) (expected {keyset_index_name(settings)!r}); the backfill reads "
            f"keyset chunks through it; {REMEDY}"
        )
    return state


def ddl_statements(settings: Settings) -> list[str]:
    """The statements of ``sql/event_store_ddl.sql`` for the configured table."""
    return split_statements(read_sql("event_store_ddl.sql").replace("{table}", settings.events_table))


@dataclass(frozen=True)
class EventStoreBootstrap:
    """What :func:`bootstrap_event_store` did."""

    where: str
    database_created: bool
    statements: list[str] = field(default_factory=list)
    """DDL statements applied (empty when the table and its index were already there)"""


def _ensure_database(settings: Settings) -> bool:
    """Create the POSTGRES_DB database when it does not exist; True if it was created."""
    params = server_params(settings, database="postgres")
    try:
        conn = psycopg2.connect(**params, connect_timeout=10, application_name="cardflow-bootstrap")
    except psycopg2.OperationalError as exc:
        raise EventStoreError(
            f"cannot connect to PostgreSQL at {params['host']}:{params['port']}: {exc}. "
            "Check POSTGRES_HOST/PORT/USER/PASSWORD, or unset POSTGRES_HOST to use the embedded store."
        ) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,))
            if cur.fetchone() is not None:
                return False
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.postgres_db)))
            except psycopg2.Error as exc:
                raise EventStoreError(
                    f"cannot create the event store database {settings.postgres_db!r} as "
                    f"{params['user']!r}: {exc}; create it as a user with CREATEDB, then re-run "
                    "`cardflow bootstrap --event-store`"
                ) from exc
            logger.info("created database %s", settings.postgres_db)
            return True
    finally:
        conn.close()


def bootstrap_event_store(settings: Settings | None = None) -> EventStoreBootstrap:
    """Create the event store database, table and keyset index where missing.

    Does nothing if they all exist (the catalog is checked first, so re-running it needs no
    privilege beyond CONNECT). Never drops or alters anything. Called by ``cardflow bootstrap``,
    ``cardflow generate`` and the demo; never by a reader.

    Raises:
        EventStoreError: the server cannot be reached, or the user may not create what is missing.
    """
    settings = settings or get_settings()
    created = _ensure_database(settings)
    applied: list[str] = []
    with connect(settings) as conn:
        if not inspect_schema(conn, settings).complete:
            statement = ""
            try:
                with conn.cursor() as cur:
                    for statement in ddl_statements(settings):
                        cur.execute(statement)
                        applied.append(statement)
                conn.commit()
            except psycopg2.Error as exc:
                conn.rollback()
                raise BootstrapError(
                    f"the event store ({describe(settings)}) as {conn.info.user!r}",
                    statement,
                    " ".join(str(exc).split()),
                    f"Have a DBA apply {DDL_FILE} or grant CREATE on the schema, then re-run "
                    "`cardflow bootstrap --event-store`",
                ) from exc
            logger.info("event store schema applied: %d statements (%s)", len(applied), describe(settings))
    return EventStoreBootstrap(where=describe(settings), database_created=created, statements=applied)


def count_events(settings: Settings | None = None) -> int:
    """Number of rows in the events table (read-only session)."""
    settings = settings or get_settings()
    with connect(settings, read_only=True) as conn:
        require_events_table(conn, settings, keyset_index=False)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(settings.events_table)))
            return int(cur.fetchone()[0])


def insert_events(
    conn: psycopg2.extensions.connection,
    events: Iterable[Mapping[str, Any]],
    settings: Settings,
    *,
    chunk_size: int = 50_000,
) -> int:
    """Insert envelopes with COPY (CSV format, so quotes, backslashes and newlines survive).

    Each chunk is copied into a temporary table and merged with ``ON CONFLICT (event_id) DO
    NOTHING``, so inserting the same events again adds nothing. Memory is bounded by the chunk.

    Each envelope is checked on its own first (:func:`envelope_problem`): a malformed one is set
    aside with a reason naming the field, the others are inserted, and the call then raises
    :class:`EventsRejected` listing the refused ones. Payload *content* is not judged here (the
    store keeps what upstream sent; the backfill quarantines contract violations).

    Returns:
        The number of rows actually inserted (duplicates of stored event_ids are not counted).

    Raises:
        EventsRejected: after inserting the valid envelopes, when some were malformed.
    """
    table = sql.Identifier(settings.events_table)
    inserted = 0
    rejected: list[tuple[int, str | None, str]] = []
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS events_incoming (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            ).format(table)
        )
        merge = sql.SQL(
            "INSERT INTO {} (event_id, source, event_type, payload, inserted_at) "
            "SELECT event_id, source, event_type, payload, inserted_at FROM events_incoming "
            "ON CONFLICT (event_id) DO NOTHING"
        ).format(table)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        pending = 0
        for position, event in enumerate(events):
            row = envelope_row(event)
            if isinstance(row, str):
                raw_id = event.get("event_id") if isinstance(event, Mapping) else None
                rejected.append((position, str(raw_id) if raw_id else None, row))
                continue
            writer.writerow(row)
            pending += 1
            if pending >= chunk_size:
                inserted += _flush(cur, buffer, merge)
                conn.commit()
                # "cardflow_rows" feeds the CLI's progress display (cardflow.cli.progress)
                logger.info("event store: %d events inserted so far", inserted, extra={"cardflow_rows": inserted})
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        if pending:
            inserted += _flush(cur, buffer, merge)
        conn.commit()
    if rejected:
        logger.warning("event store insert: %d inserted, %d envelope(s) rejected", inserted, len(rejected))
        raise EventsRejected(inserted, rejected)
    return inserted


def envelope_row(event: Any) -> tuple[str, str, str, str, str] | str:
    """The CSV row of one envelope for the store table, or the problem with it (naming the field).

    Checks what the table needs (a UUID event_id, non-empty source and event_type, a JSON payload,
    a timestamp), so one bad envelope is refused alone instead of failing the whole COPY.
    """
    if not isinstance(event, Mapping):
        return f"envelope must be a mapping, got {type(event).__name__}"
    raw_id = event.get("event_id")
    if raw_id is None or raw_id == "":
        return "event_id: missing"
    try:
        event_id = str(uuid.UUID(str(raw_id)))
    except ValueError:
        return f"event_id: {str(raw_id)[:40]!r} is not a UUID"
    for name in ("source", "event_type"):
        value = event.get(name)
        if not isinstance(value, str) or not value:
            return f"{name}: missing" if value in (None, "") else f"{name}: must be text"
    if "payload" not in event or event["payload"] is None:
        return "payload: missing"
    try:
        payload = json.dumps(event["payload"], ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"payload: not JSON ({exc})"
    inserted_at = event.get("inserted_at")
    try:
        ts = parse_timestamp(inserted_at, field="inserted_at")
    except ContractViolation as exc:
        return "inserted_at: missing" if inserted_at is None else f"inserted_at: {exc.detail}"
    return event_id, event["source"], event["event_type"], payload, ts.isoformat()


def _flush(cur: Any, buffer: io.StringIO, merge: sql.Composed) -> int:
    buffer.seek(0)
    cur.copy_expert(
        "COPY events_incoming (event_id, source, event_type, payload, inserted_at) FROM STDIN WITH (FORMAT csv)",
        buffer,
    )
    cur.execute(merge)
    return cur.rowcount

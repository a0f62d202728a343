"""The Postgres event store: connection (real server or embedded ``pgserver``) and its schema.

With no POSTGRES_HOST, an embedded PostgreSQL runs from ``CARDFLOW_DATA_DIR/pgdata`` (started on
first use, about half a second); otherwise the configured server is used. Either way the database
named by POSTGRES_DB is created when missing and the ``events`` table exists after :func:`connect`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from cardflow.errors import EventStoreError
from cardflow.settings import Settings, get_settings
from cardflow.sqlfiles import read_sql, split_statements

logger = logging.getLogger(__name__)

_embedded: dict[str, Any] = {}


def _embedded_server(settings: Settings) -> Any:
    """Start (once per process) the embedded PostgreSQL under the data directory."""
    import pgserver

    key = str(settings.pgdata_dir)
    if key not in _embedded:
        settings.pgdata_dir.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", settings.pgdata_dir)
        _embedded[key] = pgserver.get_server(settings.pgdata_dir, cleanup_mode=None)
    return _embedded[key]


def server_params(settings: Settings, database: str | None = None) -> dict[str, Any]:
    """psycopg2 connection keyword arguments for the configured (or embedded) server."""
    if settings.uses_embedded_postgres:
        server = _embedded_server(settings)
        from urllib.parse import urlparse

        uri = urlparse(server.get_uri())
        host = uri.hostname or ""
        if not host:
            # pgserver uses a unix socket: its URI is postgresql://postgres:@/postgres?host=/path
            from urllib.parse import parse_qs

            host = parse_qs(uri.query).get("host", [""])[0]
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


def ensure_database(settings: Settings) -> None:
    """Create the POSTGRES_DB database when it does not exist. Does nothing if it exists."""
    params = server_params(settings, database="postgres")
    try:
        conn = psycopg2.connect(**params, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise EventStoreError(
            f"cannot connect to PostgreSQL at {params['host']}:{params['port']}: {exc}. "
            "Check POSTGRES_HOST/PORT/USER/PASSWORD, or unset POSTGRES_HOST to use the embedded store."
        ) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.postgres_db)))
                logger.info("created database %s", settings.postgres_db)
    finally:
        conn.close()


def ensure_schema(conn: psycopg2.extensions.connection, settings: Settings) -> None:
    """Create the events table and its keyset index. Does nothing if they exist."""
    ddl = read_sql("event_store_ddl.sql").replace("{table}", settings.events_table)
    with conn.cursor() as cur:
        for statement in split_statements(ddl):
            cur.execute(statement)
    conn.commit()


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the event store with the schema in place; closed on exit."""
    settings = settings or get_settings()
    ensure_database(settings)
    params = server_params(settings)
    try:
        conn = psycopg2.connect(**params, connect_timeout=10, application_name="cardflow")
    except psycopg2.OperationalError as exc:
        raise EventStoreError(f"cannot connect to the event store ({describe(settings)}): {exc}") from exc
    try:
        ensure_schema(conn, settings)
        yield conn
    finally:
        conn.close()


def count_events(settings: Settings | None = None) -> int:
    """Number of rows in the events table."""
    settings = settings or get_settings()
    with connect(settings) as conn, conn.cursor() as cur:
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

    Returns:
        The number of rows actually inserted (duplicates of stored event_ids are not counted).
    """
    table = sql.Identifier(settings.events_table)
    inserted = 0
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
        for event in events:
            inserted_at = event["inserted_at"]
            writer.writerow(
                (
                    event["event_id"],
                    event["source"],
                    event["event_type"],
                    json.dumps(event["payload"], ensure_ascii=False, separators=(",", ":")),
                    inserted_at.isoformat() if isinstance(inserted_at, datetime) else inserted_at,
                )
            )
            pending += 1
            if pending >= chunk_size:
                inserted += _flush(cur, buffer, merge)
                conn.commit()
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        if pending:
            inserted += _flush(cur, buffer, merge)
        conn.commit()
    return inserted


def _flush(cur: Any, buffer: io.StringIO, merge: sql.Composed) -> int:
    buffer.seek(0)
    cur.copy_expert(
        "COPY events_incoming (event_id, source, event_type, payload, inserted_at) FROM STDIN WITH (FORMAT csv)",
        buffer,
    )
    cur.execute(merge)
    return cur.rowcount

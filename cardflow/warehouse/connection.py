"""A small warehouse handle for the quality tasks: the same calls on DuckDB and on Snowflake.

The quality gates, write-audit-publish and the RAW checks run a handful of statements on whichever
warehouse the settings select. This module opens that connection (DuckDB file in UTC, or the
Snowflake connector, pointed at a stand-in such as fakesnow when SNOWFLAKE_HOST is set) and hides
the cursor differences. It never logs connection parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from cardflow.errors import ConfigurationError
from cardflow.settings import Settings

logger = logging.getLogger(__name__)
Dialect = Literal["duckdb", "snowflake"]


@dataclass
class Warehouse:
    """An open connection plus its dialect; ``schema_name`` maps a logical schema to the real one."""

    dialect: Dialect
    conn: Any
    database: str | None = None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.dialect == "duckdb":  # a DuckDB cursor is a separate connection: no shared transaction
            self.conn.execute(sql, params) if params else self.conn.execute(sql)
            return
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
        finally:
            cur.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        if self.dialect == "duckdb":
            result = self.conn.execute(sql, params) if params else self.conn.execute(sql)
            return [tuple(r) for r in result.fetchall()]
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The result as a pandas DataFrame with lower-case column names."""
        import pandas as pd

        if self.dialect == "duckdb":
            frame = self.conn.execute(sql, params).df() if params else self.conn.execute(sql).df()
        else:
            cur = self.conn.cursor()
            try:
                cur.execute(sql, params) if params else cur.execute(sql)
                names = [d[0] for d in cur.description]
                frame = pd.DataFrame.from_records(cur.fetchall(), columns=names)
            finally:
                cur.close()
        frame.columns = [str(c).lower() for c in frame.columns]
        return frame

    def table_exists(self, schema: str, table: str) -> bool:
        if self.dialect == "duckdb":
            rows = self.query(
                "SELECT count(*) FROM information_schema.tables WHERE upper(table_schema) = upper(?) "
                "AND upper(table_name) = upper(?)",
                [schema, table],
            )
        else:
            rows = self.query(
                f"SELECT count(*) FROM {self.database}.information_schema.tables "
                "WHERE table_schema = %s AND table_name = %s",
                [schema.upper(), table.upper()],
            )
        return bool(rows[0][0])

    def columns(self, schema: str, table: str) -> list[str]:
        """Column names (lower case) of a table, in table order."""
        if self.dialect == "duckdb":
            rows = self.query(
                "SELECT column_name FROM information_schema.columns WHERE upper(table_schema) = upper(?) "
                "AND upper(table_name) = upper(?) ORDER BY ordinal_position",
                [schema, table],
            )
        else:
            rows = self.query(
                f"SELECT column_name FROM {self.database}.information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                [schema.upper(), table.upper()],
            )
        return [str(r[0]).lower() for r in rows]


def snowflake_connect_params(settings: Settings) -> dict[str, Any]:
    """Connector keyword arguments from settings (host/port/protocol only for stand-ins)."""
    settings.require("snowflake_account", "snowflake_user", "snowflake_password")
    assert settings.snowflake_password is not None
    params: dict[str, Any] = {
        "account": settings.snowflake_account,
        "user": settings.snowflake_user,
        "password": settings.snowflake_password.get_secret_value(),
        "warehouse": settings.snowflake_warehouse,
        "database": settings.snowflake_database,
        "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "cardflow-quality"},
    }
    if settings.snowflake_role:
        params["role"] = settings.snowflake_role
    if settings.snowflake_host:
        params.update(
            host=settings.snowflake_host,
            port=settings.snowflake_port or 443,
            protocol=settings.snowflake_protocol,
        )
    return params


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """Open the configured warehouse; closed on exit (DuckDB allows one read-write process).

    Raises:
        ConfigurationError: Snowflake selected but account/user/password missing.
    """
    if settings.warehouse == "duckdb":
        import duckdb

        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(settings.duckdb_path))
        try:
            yield Warehouse("duckdb", conn)
        finally:
            conn.close()
        return
    try:
        import snowflake.connector
    except ImportError as exc:  # pragma: no cover - the snowflake extra is part of the install
        raise ConfigurationError(
            "CARDFLOW_WAREHOUSE", "snowflake needs the [snowflake] extra installed"
        ) from exc
    conn = snowflake.connector.connect(**snowflake_connect_params(settings))
    try:
        conn.cursor().execute(f"USE DATABASE {settings.snowflake_database}")
        yield Warehouse("snowflake", conn, database=settings.snowflake_database)
    finally:
        conn.close()

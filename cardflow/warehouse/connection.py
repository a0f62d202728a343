"""A small query session for the quality steps and the report: the same calls on DuckDB and Snowflake.

The quality gates, write-audit-publish, the RAW checks, reconciliation and the Gold report run a
handful of statements on whichever warehouse the backend chooser selected. :func:`open_session`
opens that connection from a :data:`WarehouseTarget` (a DuckDB file, or the one
:class:`~cardflow.warehouse.snowflake.SnowflakeParams`) and :class:`WarehouseSession` hides the
cursor differences. The RAW *loaders* are a different interface (:mod:`cardflow.warehouse.base`).
Nothing here logs connection parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from cardflow.errors import ReportError
from cardflow.warehouse.snowflake import SnowflakeParams

logger = logging.getLogger(__name__)
Dialect = Literal["duckdb", "snowflake"]


@dataclass(frozen=True)
class DuckDBTarget:
    """The embedded warehouse: a DuckDB file."""

    path: Path
    dialect: ClassVar[Dialect] = "duckdb"


WarehouseTarget = DuckDBTarget | SnowflakeParams
"""Where the warehouse is: resolved by :mod:`cardflow.backends.chooser`."""


@dataclass
class WarehouseSession:
    """An open connection plus its dialect, and the target it was opened from.

    ``database`` is the Snowflake database (None on DuckDB); ``target`` lets consumers that need
    their own client (the GX SQL datasource) reach the same warehouse with the same parameters.
    """

    dialect: Dialect
    conn: Any
    database: str | None = None
    target: WarehouseTarget | None = None

    def qualified_schema(self, schema: str) -> str:
        """``schema`` as a statement names it: database-qualified on Snowflake (a session may have
        another current database), bare on DuckDB (one catalog per file)."""
        return f"{self.database}.{schema}" if self.dialect == "snowflake" else schema

    def qualified(self, schema: str, table: str) -> str:
        """``schema.table`` as a statement names it (see :meth:`qualified_schema`)."""
        return f"{self.qualified_schema(schema)}.{table}"

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



SessionOpener = Callable[[], AbstractContextManager[WarehouseSession]]
"""Opens a session on demand (``Backends.open_session``): library steps that must close the session
before something else opens the warehouse (dbt on the DuckDB file) take this instead of a session."""


@contextmanager
def open_session(
    target: WarehouseTarget, *, read_only: bool = False, query_tag: str = "cardflow-quality"
) -> Iterator[WarehouseSession]:
    """Open the warehouse at ``target``; closed on exit (DuckDB allows one read-write process).

    Args:
        target: from the backend chooser.
        read_only: DuckDB only: open read-only (the report); the file must then exist.
        query_tag: Snowflake QUERY_TAG of the session (which step ran a query).

    Raises:
        ReportError: ``read_only`` and the DuckDB file does not exist yet.
    """
    if isinstance(target, DuckDBTarget):
        from cardflow.warehouse.duckdb import connect_utc

        if read_only and not target.path.exists():
            raise ReportError(
                str(target.path),
                "the DuckDB warehouse does not exist yet; run `cardflow demo` or the pipeline first",
            )
        target.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect_utc(target.path, read_only=read_only)
        try:
            yield WarehouseSession("duckdb", conn, target=target)
        finally:
            conn.close()
        return
    conn = target.connect(query_tag)
    try:
        yield WarehouseSession("snowflake", conn, database=target.database, target=target)
    finally:
        conn.close()

"""Snowflake: the one set of connection parameters, and RAW.EVENTS loading with COPY INTO.

**The Snowflake connection.** :class:`SnowflakeParams` is the only description of how to reach
Snowflake. The backend chooser (:mod:`cardflow.backends.chooser`) builds it once per run, from a
prefect-snowflake ``SnowflakeConnector`` block (``CARDFLOW_SNOWFLAKE_BLOCK``) or from the
``SNOWFLAKE_*`` variables, and every consumer takes it from there: this loader, the quality/WAP
session (:mod:`cardflow.warehouse.connection`), the Great Expectations datasource, the dbt profile
and the Gold report. ``SNOWFLAKE_HOST``/``PORT``/``PROTOCOL`` are only for stand-ins such as fakesnow.

**The load.** The files to load are named (``FILES = (...)``, from the manifests), never guessed by
pattern, and Snowflake's load history (kept per table for 64 days) skips any file it already loaded,
so a re-run loads nothing. ``ON_ERROR = ABORT_STATEMENT`` makes each COPY all-or-nothing; when one
fails, the batch is split in halves and retried until the bad files stand alone, so each is reported
with Snowflake's error (which names the file and line) while the others load. Every COPY runs inside
an explicit transaction, and its per-file result (status, rows parsed/loaded, first error) is checked
against the manifest's row count before COMMIT.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

from pydantic import SecretStr

from cardflow.bronze.layout import join
from cardflow.bronze.store import BronzeStore
from cardflow.errors import BootstrapError, ConfigurationError, LoadError, UnsafeSqlText
from cardflow.settings import Settings
from cardflow.sqlfiles import read_sql, split_statements
from cardflow.warehouse.base import (
    BronzeFile,
    DdlResult,
    FileLoad,
    ddl_statements,
    quote_literal,
    render_sql,
    sql_values,
    statement_kind,
)
from cardflow.warehouse.manifest_log import ManifestLog

logger = logging.getLogger(__name__)

MAX_FILES_PER_COPY = 1000  # Snowflake's limit for FILES = (...)

#: COPY INTO result columns, in Snowflake's documented order
COPY_RESULT_COLUMNS = (
    "file",
    "status",
    "rows_parsed",
    "rows_loaded",
    "error_limit",
    "errors_seen",
    "first_error",
    "first_error_line",
    "first_error_character",
    "first_error_column_name",
)


@dataclass(frozen=True)
class SnowflakeParams:
    """How to reach Snowflake: resolved once (block or env), used by every Snowflake consumer.

    ``role`` is optional: unset means the user's default role. ``host``/``port``/``protocol`` are
    for stand-ins (fakesnow); production leaves ``host`` unset and the account's endpoint is used.
    ``source`` says where the values came from (``block 'name'`` or ``environment``) for messages.
    """

    account: str
    user: str
    password: SecretStr
    database: str
    warehouse: str
    role: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: Literal["https", "http"] = "https"
    source: str = "environment"

    dialect = "snowflake"

    def connect_kwargs(self, query_tag: str = "cardflow", *, schema: str | None = None) -> dict[str, Any]:
        """Keyword arguments of ``snowflake.connector.connect`` (sessions in UTC, tagged)."""
        params: dict[str, Any] = {
            "account": self.account,
            "user": self.user,
            "password": self.password.get_secret_value(),
            "warehouse": self.warehouse,
            "database": self.database,
            "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": query_tag},
        }
        if schema:
            params["schema"] = schema
        if self.role:
            params["role"] = self.role
        if self.host:
            params.update(host=self.host, port=self.port or 443, protocol=self.protocol)
        return params

    def connect(self, query_tag: str = "cardflow", *, schema: str | None = None, use_database: bool = True) -> Any:
        """An open ``snowflake.connector`` connection (with :attr:`database` in use unless
        ``use_database`` is false: bootstrap connects before the database exists).

        Raises:
            ConfigurationError: the ``[snowflake]`` extra is not installed.
        """
        try:
            import snowflake.connector
        except ImportError as exc:  # pragma: no cover - the snowflake extra is part of the install
            raise ConfigurationError("CARDFLOW_WAREHOUSE", "snowflake needs the [snowflake] extra installed") from exc
        conn = snowflake.connector.connect(**self.connect_kwargs(query_tag, schema=schema))
        if not use_database:
            return conn
        try:
            conn.cursor().execute(f"USE DATABASE {self.database}")
        except BaseException:
            conn.close()
            raise
        return conn

    def sqlalchemy_args(self, schema: str, query_tag: str = "cardflow-gx") -> dict[str, Any]:
        """``connection_string`` and engine ``kwargs`` for a SQLAlchemy (GX) Snowflake datasource.

        Host/port/protocol (stand-ins only) go through ``connect_args``: snowflake-sqlalchemy
        refuses them in the URL.
        """
        url = (
            f"snowflake://{quote(self.user, safe='')}:{quote(self.password.get_secret_value(), safe='')}"
            f"@{self.account}/{self.database}/{schema}?warehouse={self.warehouse}"
        )
        if self.role:
            url += f"&role={quote(self.role, safe='')}"
        connect_args: dict[str, Any] = {"session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": query_tag}}
        if self.host:
            connect_args.update(host=self.host, port=self.port or 443, protocol=self.protocol)
        return {"connection_string": url, "kwargs": {"connect_args": connect_args}}

    def dbt_output(self, *, schema: str, threads: int) -> dict[str, Any]:
        """The dbt-snowflake output (profile target) for these parameters."""
        output: dict[str, Any] = {
            "type": "snowflake",
            "account": self.account,
            "user": self.user,
            "password": self.password.get_secret_value(),
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": schema,
            "threads": threads,
            "client_session_keep_alive": False,
            "query_tag": "cardflow-dbt",
        }
        if self.role:
            output["role"] = self.role
        if self.host:
            output.update(host=self.host, port=self.port or 443, protocol=self.protocol)
        return output

    def __repr__(self) -> str:  # the password never appears
        return (
            f"SnowflakeParams(account={self.account!r}, user={self.user!r}, database={self.database!r}, "
            f"warehouse={self.warehouse!r}, role={self.role!r}, host={self.host!r}, source={self.source!r})"
        )


def parse_copy_results(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """COPY INTO's result rows as dicts; the one-column "Copy executed with 0 files processed."
    row (every named file was already loaded) gives an empty list."""
    parsed = []
    for row in rows:
        if len(row) < len(COPY_RESULT_COLUMNS):
            continue
        parsed.append(dict(zip(COPY_RESULT_COLUMNS, row, strict=False)))
    return parsed


class _CopyFailed(Exception):
    """A COPY statement failed or loaded something other than the manifest promised."""


class SnowflakeLoader:
    """The RAW loader on Snowflake (COPY INTO from the external Bronze stage).

    Args:
        settings: schema, stage and batch settings.
        params: the connection (from the backend chooser).
        stage_url: URL of the Bronze stage (SNOWFLAKE_STAGE_URL, else the Bronze bucket and prefix).
        connection: an open ``snowflake.connector`` connection to use instead (tests).
    """

    name = "snowflake"

    def __init__(
        self, settings: Settings, params: SnowflakeParams, stage_url: str, *, connection: Any | None = None
    ) -> None:
        self.settings = settings
        self.params = params
        self.stage_url = stage_url
        self._conn = connection
        self.batch_files = min(settings.load_batch_files, MAX_FILES_PER_COPY)
        self.prefix = settings.s3_prefix
        self.table = f"{params.database}.{settings.snowflake_raw_schema}.EVENTS"

    @property
    def conn(self) -> Any:
        if self._conn is None:
            # RAW as the session's schema (as the prefect-snowflake connector did); no USE DATABASE,
            # as bootstrap connects before the database exists
            self._conn = self.params.connect(
                "cardflow-load", schema=self.settings.snowflake_raw_schema, use_database=False
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SnowflakeLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def _fetch_all(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]
        finally:
            cur.close()

    # --- DDL -------------------------------------------------------------------------------------
    def bootstrap(self, *, skip: Mapping[str, str] | None = None) -> DdlResult:
        """Apply ``sql/snowflake_ddl.sql``: every statement is IF NOT EXISTS, so this is safe to
        re-run. Does nothing to existing objects.

        Args:
            skip: statement kinds (``"CREATE WAREHOUSE"``...) to leave out, each with the reason;
                only for stand-ins that cannot run them (see tests). Production passes nothing.
        """
        settings = self.settings
        values = sql_values(
            settings,
            database=self.params.database,
            warehouse=self.params.warehouse,
            stage_url=self.stage_url,
            aws_role_arn=settings.snowflake_storage_aws_role_arn or "",
        )
        skip = dict(skip or {})
        if not settings.snowflake_storage_aws_role_arn:
            skip.setdefault(
                "CREATE STORAGE INTEGRATION",
                "SNOWFLAKE_STORAGE_AWS_ROLE_ARN is unset: integration "
                f"{settings.snowflake_storage_integration} must already exist (created by an account admin)",
            )
        executed: list[str] = []
        skipped: list[tuple[str, str]] = []
        for statement in ddl_statements("snowflake_ddl.sql", values):
            kind = statement_kind(statement)
            if kind in skip:
                logger.info("bootstrap: skipped %s: %s", kind, skip[kind])
                skipped.append((statement, skip[kind]))
                continue
            try:
                self._execute(statement)
            except Exception as exc:  # the connector's ProgrammingError/DatabaseError
                raise BootstrapError(
                    f"the Snowflake warehouse ({self.params.database})",
                    statement,
                    " ".join(str(exc).split()),
                    f"Fix the privilege or object it names ({len(executed)} statements before it were "
                    "applied; all are idempotent), then re-run `cardflow bootstrap --warehouse`; "
                    "`--print-sql` shows every statement",
                ) from exc
            executed.append(statement)
        logger.info("bootstrap: %d statements applied, %d skipped", len(executed), len(skipped))
        return DdlResult(executed=executed, skipped=skipped)

    # --- load ------------------------------------------------------------------------------------
    def stage_path(self, key: str) -> str:
        """A Bronze key's path inside the stage (the stage URL ends at S3_PREFIX)."""
        base = join(self.prefix) + "/" if self.prefix else ""
        if base and not key.startswith(base):
            raise LoadError(key, f"is not under the stage prefix {base!r} (S3_PREFIX)")
        return key[len(base) :]

    def load(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """COPY the files; Snowflake's load history turns already-loaded files into no-ops."""
        return self._run(files, force=False)

    def reload(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """Delete the files' rows and COPY them again with FORCE, in one transaction per batch."""
        return self._run(files, force=True)

    def manifest_log(self) -> ManifestLog:
        """The load cursor, ``RAW.LOADED_MANIFESTS`` beside RAW.EVENTS."""
        return ManifestLog(
            "snowflake",
            f"{self.params.database}.{self.settings.snowflake_raw_schema}.LOADED_MANIFESTS",
            self._execute,
            self._fetch_all,
            timedelta(minutes=self.settings.load_manifest_grace_minutes),
        )

    def raw_row_count(self) -> int:
        return int(self._fetch_all(f"SELECT COUNT(*) FROM {self.table}")[0][0])

    def _run(self, files: Sequence[BronzeFile], *, force: bool) -> list[FileLoad]:
        results: dict[str, FileLoad] = {}
        todo: list[tuple[BronzeFile, str]] = []
        for file in {f.key: f for f in files}.values():
            try:
                path = self.stage_path(file.key)
                quote_literal(path, "snowflake")  # refused here, per file, not mid-batch
                todo.append((file, path))
            except (LoadError, UnsafeSqlText) as exc:
                results[file.key] = FileLoad(file.key, "failed", error=str(exc))
        for start in range(0, len(todo), self.batch_files):
            results.update(self._copy_isolating(todo[start : start + self.batch_files], force=force))
        return [results[f.key] for f in files]

    def _copy_isolating(self, batch: list[tuple[BronzeFile, str]], *, force: bool) -> dict[str, FileLoad]:
        """COPY ``batch``; on failure split it in halves until each bad file stands alone."""
        try:
            return self._copy(batch, force=force)
        except _CopyFailed as exc:
            if len(batch) == 1:
                key = batch[0][0].key
                logger.warning("load: %s failed and was not loaded (retried next run): %s", key, exc)
                return {key: FileLoad(key, "failed", error=str(exc))}
            logger.warning("load: COPY of %d files failed (%s); isolating the bad ones", len(batch), exc)
            middle = len(batch) // 2
            return self._copy_isolating(batch[:middle], force=force) | self._copy_isolating(
                batch[middle:], force=force
            )

    def _copy(self, batch: list[tuple[BronzeFile, str]], *, force: bool) -> dict[str, FileLoad]:
        import snowflake.connector.errors

        settings = self.settings
        paths = [path for _, path in batch]
        values = sql_values(
            settings,
            database=self.params.database,
            files=", ".join(quote_literal(p, "snowflake") for p in paths),
            force="\nFORCE = TRUE" if force else "",
        )
        copy_sql = render_sql(split_statements(read_sql("snowflake_copy_into.sql", __file__))[0], values)
        table = self.table
        self._execute("BEGIN")
        try:
            if force:
                names = ", ".join(quote_literal(p, "snowflake") for p in paths)
                self._execute(f"DELETE FROM {table} WHERE FILE_NAME IN ({names})")
            outcome = self._outcomes(batch, parse_copy_results(self._fetch_all(copy_sql)))
        except (snowflake.connector.errors.Error, _CopyFailed) as exc:
            self._execute("ROLLBACK")
            raise _CopyFailed(_first_line(exc)) from exc
        self._execute("COMMIT")
        loaded = [r for r in outcome.values() if r.status == "loaded"]
        logger.info(
            "load: COPY INTO %s: %d files loaded (%d rows), %d already loaded",
            table,
            len(loaded),
            sum(r.rows_loaded for r in loaded),
            len(outcome) - len(loaded),
        )
        return outcome

    def _outcomes(
        self, batch: list[tuple[BronzeFile, str]], parsed: list[dict[str, Any]]
    ) -> dict[str, FileLoad]:
        """Match COPY results to files; raise _CopyFailed if a file did not load as promised."""
        stage_url = self.stage_url
        by_path: dict[str, dict[str, Any]] = {}
        for result in parsed:
            name = str(result["file"])
            by_path[name[len(stage_url) :] if name.startswith(stage_url) else name] = result
        requested = {path for _, path in batch}
        unmatched = sorted(set(by_path) - requested)
        if unmatched:
            # a result for a file nobody asked for: the stage URL or S3_PREFIX does not match what
            # COPY resolved, so "no result row" can no longer be read as "already loaded"
            raise _CopyFailed(
                f"COPY reported {len(unmatched)} file(s) that match no requested file (first: "
                f"{unmatched[0]!r}, stage URL {stage_url!r}); check SNOWFLAKE_STAGE_URL and S3_PREFIX"
            )
        outcome: dict[str, FileLoad] = {}
        for file, path in batch:
            result = by_path.get(path)
            if result is None or str(result["status"]).upper() == "LOAD_SKIPPED":
                # not listed: Snowflake's load history already has it (a re-run)
                outcome[file.key] = FileLoad(file.key, "already_loaded")
                continue
            status = str(result["status"]).upper()
            parsed_rows, loaded_rows = int(result["rows_parsed"] or 0), int(result["rows_loaded"] or 0)
            if status != "LOADED":
                raise _CopyFailed(f"{path}: {status}: {result['first_error']}")
            if file.rows is not None and loaded_rows != file.rows:
                raise _CopyFailed(
                    f"{path}: row_count_mismatch: loaded {loaded_rows}, the manifest says {file.rows}"
                )
            outcome[file.key] = FileLoad(file.key, "loaded", rows_parsed=parsed_rows, rows_loaded=loaded_rows)
        return outcome


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__

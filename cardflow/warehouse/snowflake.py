"""RAW.EVENTS on Snowflake: COPY INTO from the external Bronze stage, through prefect-snowflake.

The files to load are named (``FILES = (...)``, from the manifests), never guessed by pattern, and
Snowflake's load history (kept per table for 64 days) skips any file it already loaded, so a re-run
loads nothing. ``ON_ERROR = ABORT_STATEMENT`` makes each COPY all-or-nothing; when one fails, the
batch is split in halves and retried until the bad files stand alone, so each is reported with
Snowflake's error (which names the file and line) while the others load. Every COPY runs inside an
explicit transaction, and its per-file result (status, rows parsed/loaded, first error) is checked
against the manifest's row count before COMMIT.

Connections come from a prefect-snowflake ``SnowflakeConnector``: the block named by
``CARDFLOW_SNOWFLAKE_BLOCK``, else one built from the ``SNOWFLAKE_*`` settings (``SNOWFLAKE_HOST``/
``PORT``/``PROTOCOL`` only for a stand-in such as fakesnow).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cardflow.bronze.layout import join
from cardflow.bronze.store import BronzeStore
from cardflow.errors import LoadError
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

if TYPE_CHECKING:
    from prefect_snowflake import SnowflakeConnector

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


def snowflake_connector(settings: Settings) -> SnowflakeConnector:
    """The prefect-snowflake connector: the configured block, else one built from settings.

    Raises:
        ConfigurationError: neither a block nor SNOWFLAKE_ACCOUNT/USER/PASSWORD are set.
    """
    from prefect_snowflake import SnowflakeConnector, SnowflakeCredentials

    if settings.snowflake_connector_block:
        return SnowflakeConnector.load(settings.snowflake_connector_block)
    settings.require("snowflake_account", "snowflake_user", "snowflake_password")
    endpoint: dict[str, Any] = {}
    if settings.snowflake_host:
        endpoint = {
            "host": settings.snowflake_host,
            "port": settings.snowflake_port or 443,
            "protocol": settings.snowflake_protocol,
        }
    credentials = SnowflakeCredentials(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        password=settings.snowflake_password,
        role=settings.snowflake_role,
        **endpoint,
    )
    return SnowflakeConnector(
        credentials=credentials,
        database=settings.snowflake_database,
        warehouse=settings.snowflake_warehouse,
        schema=settings.snowflake_raw_schema,
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


class SnowflakeWarehouse:
    """Snowflake through a prefect-snowflake ``SnowflakeConnector``."""

    name = "snowflake"

    def __init__(self, settings: Settings, *, connector: SnowflakeConnector | None = None) -> None:
        self.settings = settings
        self._connector = connector
        self.batch_files = min(settings.load_batch_files, MAX_FILES_PER_COPY)
        self.prefix = settings.s3_prefix

    @property
    def connector(self) -> SnowflakeConnector:
        if self._connector is None:
            self._connector = snowflake_connector(self.settings)
        return self._connector

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None

    def __enter__(self) -> SnowflakeWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch_all(self, sql: str) -> list[tuple[Any, ...]]:
        # SnowflakeConnector.fetch_all caches a cursor per statement text and would return the
        # previous (exhausted) result for a repeated COPY: reset so every call executes.
        try:
            return list(self.connector.fetch_all(sql))
        finally:
            self.connector.reset_cursors()

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
            stage_url=settings.snowflake_stage_url,
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
            self.connector.execute(statement)
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

    def raw_row_count(self) -> int:
        table = f"{self.settings.snowflake_database}.{self.settings.snowflake_raw_schema}.EVENTS"
        return int(self._fetch_all(f"SELECT COUNT(*) FROM {table}")[0][0])

    def _run(self, files: Sequence[BronzeFile], *, force: bool) -> list[FileLoad]:
        results: dict[str, FileLoad] = {}
        todo: list[tuple[BronzeFile, str]] = []
        for file in {f.key: f for f in files}.values():
            try:
                todo.append((file, self.stage_path(file.key)))
            except LoadError as exc:
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
            files=", ".join(quote_literal(p) for p in paths),
            force="\nFORCE = TRUE" if force else "",
        )
        copy_sql = render_sql(split_statements(read_sql("snowflake_copy_into.sql", __file__))[0], values)
        table = f"{settings.snowflake_database}.{settings.snowflake_raw_schema}.EVENTS"
        self.connector.execute("BEGIN")
        try:
            if force:
                names = ", ".join(quote_literal(p) for p in paths)
                self.connector.execute(f"DELETE FROM {table} WHERE FILE_NAME IN ({names})")
            outcome = self._outcomes(batch, parse_copy_results(self._fetch_all(copy_sql)))
        except (snowflake.connector.errors.Error, _CopyFailed) as exc:
            self.connector.execute("ROLLBACK")
            raise _CopyFailed(_first_line(exc)) from exc
        self.connector.execute("COMMIT")
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
        stage_url = self.settings.snowflake_stage_url
        by_path: dict[str, dict[str, Any]] = {}
        for result in parsed:
            name = str(result["file"])
            by_path[name[len(stage_url) :] if name.startswith(stage_url) else name] = result
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

"""RAW.EVENTS in the embedded DuckDB file: exactly once per Bronze file, in one transaction.

A file enters RAW together with its ``load_history`` row (file, sha256, rows, loaded_at) in the same
transaction, so after any crash a file is either fully loaded and recorded, or absent and retried.
Files are loaded in batches (``CARDFLOW_LOAD_BATCH_FILES`` per transaction) for speed; when a batch
fails, it is rolled back and its files are retried one transaction each, so one corrupt file is
reported by name and the others still load.

DuckDB parses the gzip NDJSON itself, a whole batch in one parallel read
(``duckdb_load_batch.sql``): a local store's files are read
where they are, an S3 store's objects are fetched (DuckDB has no httpfs here) into a temporary
directory first. Every file's SHA-256 is checked against its manifest before it is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from cardflow.bronze.store import BronzeStore, LocalBronzeStore
from cardflow.errors import BootstrapError, LoadError, StorageError
from cardflow.settings import Settings
from cardflow.sqlfiles import read_sql
from cardflow.warehouse.base import BronzeFile, DdlResult, FileLoad, ddl_statements, quote_literal, render_sql
from cardflow.warehouse.manifest_log import ManifestLog

logger = logging.getLogger(__name__)


def connect_utc(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file with the session time zone pinned to UTC.

    Every cardflow DuckDB session goes through here (loader, quality/WAP session, demo summary), so
    ``TIMESTAMPTZ`` values cast to dates or strings bucket by UTC days whatever the machine's zone
    is. Set after connect: ICU autoloads then, the connect-time config does not accept it. No
    progress bar: it would draw on the console of ``cardflow demo`` and the flows' logs.
    """
    conn = duckdb.connect(str(path), read_only=read_only)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        # a statement over 2 s (a 1,000-file load batch) would draw DuckDB's progress bar on the
        # console; cardflow reports progress through its own stage lines and logs
        conn.execute("SET enable_progress_bar = false")
    except BaseException:
        conn.close()
        raise
    return conn


class _Staged:
    """A fetched, checksum-verified file ready for ``read_ndjson``."""

    __slots__ = ("file", "path", "sha256")

    def __init__(self, file: BronzeFile, path: Path, sha256: str) -> None:
        self.file = file
        self.path = path
        self.sha256 = sha256


class DuckDBLoader:
    """The embedded warehouse at ``settings.duckdb_path`` (one read-write process at a time)."""

    name = "duckdb"

    def __init__(self, settings: Settings, *, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        self.settings = settings
        self.raw = settings.snowflake_raw_schema
        self.batch_files = settings.load_batch_files
        self._conn = connection
        self._bootstrapped = False

    # --- connection ------------------------------------------------------------------------------
    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            path = self.settings.duckdb_path
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = connect_utc(path)
            except duckdb.IOException as exc:
                raise LoadError(
                    str(path),
                    f"cannot open the DuckDB file ({exc}); another process (dbt?) may hold it: "
                    "retry after it ends",
                ) from exc
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> DuckDBLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- DDL -------------------------------------------------------------------------------------
    def bootstrap(self) -> DdlResult:
        """Create schemas RAW/SILVER/GOLD, RAW.events and RAW.load_history. Does nothing if they exist."""
        executed: list[str] = []
        statements = [
            *ddl_statements("duckdb_ddl.sql", {"raw": self.raw}),
            *(
                f"CREATE SCHEMA IF NOT EXISTS {schema}"
                for schema in (self.settings.snowflake_silver_schema, self.settings.snowflake_gold_schema)
            ),
        ]
        for statement in statements:
            try:
                self.conn.execute(statement)
            except duckdb.Error as exc:
                raise BootstrapError(
                    f"the DuckDB warehouse {self.settings.duckdb_path}",
                    statement,
                    " ".join(str(exc).split()),
                    "Another process may hold the file, or RAW.events has another shape than "
                    "sql/duckdb_ddl.sql; fix that, then re-run `cardflow bootstrap --warehouse`",
                ) from exc
            executed.append(statement)
        self._bootstrapped = True
        return DdlResult(executed=executed, skipped=[])

    def _ensure_tables(self) -> None:
        if not self._bootstrapped:
            self.bootstrap()

    # --- load ------------------------------------------------------------------------------------
    def load(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """Load every file not yet in ``load_history``; files already there are reported, not reloaded.

        A file recorded with a different SHA-256 than its manifest now states is reported as failed
        (Bronze objects are immutable: something rewrote it; ``cardflow replay`` reloads on purpose).
        """
        self._ensure_tables()
        unique = list({f.key: f for f in files}.values())
        history = self._history([f.key for f in unique])
        results: dict[str, FileLoad] = {}
        new: list[BronzeFile] = []
        for file in unique:
            if file.key not in history:
                new.append(file)
                continue
            sha, _rows = history[file.key]
            if file.sha256 and file.sha256 != sha:
                results[file.key] = FileLoad(
                    file.key,
                    "failed",
                    error=f"checksum_changed: loaded before with sha256 {sha[:12]}, the manifest now says "
                    f"{file.sha256[:12]}; Bronze files are immutable: find what rewrote it, "
                    "then `cardflow replay`",
                )
            else:
                results[file.key] = FileLoad(file.key, "already_loaded", rows_parsed=0, rows_loaded=0)
        for start in range(0, len(new), self.batch_files):
            results.update(self._load_batch(new[start : start + self.batch_files], store, replace=False))
        return [results[f.key] for f in files]

    def reload(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """Delete each file's RAW rows and history entry and load it again, one transaction per file."""
        self._ensure_tables()
        results: dict[str, FileLoad] = {}
        for file in {f.key: f for f in files}.values():
            results.update(self._load_batch([file], store, replace=True))
        return [results[f.key] for f in files]

    def manifest_log(self) -> ManifestLog:
        """The load cursor, ``RAW.loaded_manifests`` in this DuckDB file."""
        self._ensure_tables()
        return ManifestLog(
            "duckdb",
            f"{self.raw}.loaded_manifests",
            self.conn.execute,
            lambda sql: self.conn.execute(sql).fetchall(),
            timedelta(minutes=self.settings.load_manifest_grace_minutes),
        )

    def raw_row_count(self) -> int:
        self._ensure_tables()
        return int(self.conn.execute(f"SELECT count(*) FROM {self.raw}.events").fetchone()[0])

    # --- internals -------------------------------------------------------------------------------
    def _history(self, keys: list[str]) -> dict[str, tuple[str, int]]:
        if not keys:
            return {}
        rows = self.conn.execute(
            f"SELECT file_name, sha256, row_count FROM {self.raw}.load_history "
            "WHERE file_name IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ).fetchall()
        return {name: (sha, int(count)) for name, sha, count in rows}

    def _load_batch(
        self, batch: list[BronzeFile], store: BronzeStore, *, replace: bool
    ) -> dict[str, FileLoad]:
        results: dict[str, FileLoad] = {}
        with tempfile.TemporaryDirectory(prefix="cardflow-load-") as tmp:
            staged: list[_Staged] = []
            for index, file in enumerate(batch):
                try:
                    staged.append(self._stage(file, store, Path(tmp), index))
                except (LoadError, StorageError) as exc:
                    results[file.key] = FileLoad(file.key, "failed", error=str(exc))
                    logger.warning("load: %s", exc)
            if not staged:
                return results
            try:
                results.update(self._insert(staged, replace=replace))
            except (duckdb.Error, LoadError) as exc:
                self._rollback()
                if len(staged) == 1:
                    results[staged[0].file.key] = self._failure(staged[0], exc)
                    return results
                logger.warning(
                    "load: batch of %d files failed (%s); retrying them one by one",
                    len(staged),
                    _first_line(exc),
                )
                for one in staged:
                    try:
                        results.update(self._insert([one], replace=replace))
                    except (duckdb.Error, LoadError) as single_exc:
                        self._rollback()
                        results[one.file.key] = self._failure(one, single_exc)
        return results

    def _failure(self, staged: _Staged, exc: BaseException) -> FileLoad:
        reason = _first_line(exc)
        logger.warning("load: %s failed and was not loaded (retried next run): %s", staged.file.key, reason)
        return FileLoad(staged.file.key, "failed", error=reason)

    def _stage(self, file: BronzeFile, store: BronzeStore, tmp: Path, index: int) -> _Staged:
        """Fetch (or locate) the file and verify its checksum; raises LoadError/StorageError."""
        if isinstance(store, LocalBronzeStore):
            path = store._path(file.key)
            data = store.read_bytes(file.key)
        else:
            data = store.read_bytes(file.key)
            path = tmp / f"{index:05d}.json.gz"
            path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        if file.sha256 and sha != file.sha256:
            raise LoadError(
                file.key,
                f"checksum_mismatch: object has sha256 {sha[:12]} ({len(data)} bytes), its manifest says "
                f"{file.sha256[:12]} ({file.bytes} bytes): truncated or rewritten; "
                "re-land it, it is retried next run",
            )
        return _Staged(file, path, sha)

    def _insert(self, staged: list[_Staged], *, replace: bool) -> dict[str, FileLoad]:
        """Insert the files' rows and history entries in ONE transaction (committed by ``_commit``)."""
        loaded_at = datetime.now(UTC)
        names = [s.file.key for s in staged]
        loaded_at_sql = "TIMESTAMPTZ " + quote_literal(loaded_at.isoformat(), "duckdb")
        batch_sql = render_sql(
            read_sql("duckdb_load_batch.sql", __file__),
            {
                "paths": _list_literal([str(s.path) for s in staged]),
                "names": _list_literal(names),
                "loaded_at": loaded_at_sql,
            },
        )
        conn = self.conn
        conn.execute("BEGIN TRANSACTION")
        if replace:
            conn.execute(
                f"DELETE FROM {self.raw}.events WHERE file_name IN (SELECT unnest(?::VARCHAR[]))", [names]
            )
            conn.execute(
                f"DELETE FROM {self.raw}.load_history WHERE file_name IN (SELECT unnest(?::VARCHAR[]))",
                [names],
            )
        conn.execute(f"INSERT INTO {self.raw}.events {batch_sql}")
        counts = dict(
            conn.execute(
                f"SELECT file_name, count(*) FROM {self.raw}.events "
                "WHERE loaded_at = ? AND file_name IN (SELECT unnest(?::VARCHAR[])) GROUP BY file_name",
                [loaded_at, names],
            ).fetchall()
        )
        history: list[tuple[Any, ...]] = []
        for s in staged:
            rows = int(counts.get(s.file.key, 0))
            if s.file.rows is not None and rows != s.file.rows:
                raise LoadError(
                    s.file.key,
                    f"row_count_mismatch: the file has {rows} records, its manifest says {s.file.rows}",
                )
            history.append((s.file.key, s.sha256, rows, loaded_at))
        # one statement for the batch (DuckDB runs executemany as one statement per row)
        conn.execute(
            f"INSERT INTO {self.raw}.load_history "
            "SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), ?",
            [[h[0] for h in history], [h[1] for h in history], [h[2] for h in history], loaded_at],
        )
        self._commit()
        logger.info(
            "load: %d files, %d rows committed to %s.events",
            len(staged),
            sum(h[2] for h in history),
            self.raw,
            extra={"cardflow_rows_added": sum(h[2] for h in history)},  # the CLI's progress display
        )
        return {
            name: FileLoad(name, "loaded", rows_parsed=rows, rows_loaded=rows) for name, _, rows, _ in history
        }

    def _commit(self) -> None:
        """COMMIT the open transaction (a separate method so tests can crash right before it)."""
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        # the failed statement may already have ended the transaction
        with contextlib.suppress(duckdb.TransactionException):
            self.conn.execute("ROLLBACK")


def _list_literal(values: list[str]) -> str:
    """A DuckDB list literal of string literals (``['a', 'b']``)."""
    return "[" + ", ".join(quote_literal(v, "duckdb") for v in values) + "]"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__

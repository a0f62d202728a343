"""The load cursor: which Bronze manifests the warehouse already holds, kept in the warehouse itself.

Manifest keys are ``{S3_PREFIX}/_manifests/origin=<origin>/<run_id>.json`` and every run id starts
with its UTC timestamp (``YYYYmmddTHHMMSS...``), so within an origin the names sort in time order.
The load therefore lists each origin's manifests *after* a cursor (S3 ``StartAfter``) instead of
all of them: its cost follows what is new, not the history.

The cursor of an origin is the oldest manifest recorded as ``failed`` (it must be retried), else the
newest recorded as ``loaded``. Listing starts :attr:`ManifestLog.grace` before the cursor's
timestamp, so a manifest written late under an earlier name (a landing that started before the
last load but finished after it) is still found; keys already recorded as loaded are dropped.

A manifest is recorded after its files' rows are committed: a crash in between leaves it
unrecorded, so the next run reads it again and the warehouse's file-level load history turns its
files into ``already_loaded`` (nothing is loaded twice, nothing skipped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cardflow.sqlfiles import named_statements
from cardflow.warehouse.base import SqlDialect, quote_literal

logger = logging.getLogger(__name__)

ManifestStatus = Literal["loaded", "failed"]
_IN_LIST_CHUNK = 1000
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True)
class ManifestRecord:
    """One handled manifest: ``loaded`` when every file it lists is in RAW, else ``failed``."""

    key: str
    status: ManifestStatus
    files: int = 0
    rows: int = 0

    @property
    def origin(self) -> str:
        return manifest_origin(self.key)


def manifest_origin(key: str) -> str:
    """``backfill`` for ``.../_manifests/origin=backfill/x.json`` (empty when the key has no origin)."""
    for part in key.split("/"):
        if part.startswith("origin="):
            return part.removeprefix("origin=")
    return ""


def run_timestamp(key: str) -> datetime | None:
    """The UTC timestamp a manifest's run id starts with, or None when the name does not start with one."""
    name = key.rsplit("/", 1)[-1]
    try:
        return datetime.strptime(name[:15], _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def listing_start(cursor_key: str, grace: timedelta) -> str | None:
    """The ``start_after`` key ``grace`` before ``cursor_key``'s run timestamp (None: list everything
    of the origin, as a name without a timestamp gives no order to rely on)."""
    stamp = run_timestamp(cursor_key)
    if stamp is None:
        return None
    folder = cursor_key.rsplit("/", 1)[0]
    return f"{folder}/{(stamp - grace).strftime(_TIMESTAMP_FORMAT)}"


class ManifestLog:
    """LOADED_MANIFESTS in the warehouse (DuckDB ``RAW.loaded_manifests``, Snowflake ``RAW.LOADED_MANIFESTS``).

    Args:
        dialect: ``duckdb`` or ``snowflake`` (picks the DDL).
        table: the schema-qualified table name (validated identifiers).
        execute / fetch: run one statement on the loader's connection, without / with result rows.
        grace: how far before the cursor's timestamp listings start.
    """

    def __init__(
        self,
        dialect: str,
        table: str,
        execute: Callable[[str], Any],
        fetch: Callable[[str], list[tuple[Any, ...]]],
        grace: timedelta,
    ) -> None:
        self.table = table
        self.grace = grace
        self._dialect: SqlDialect = "snowflake" if dialect == "snowflake" else "duckdb"
        self._execute = execute
        self._fetch = fetch
        self._sql = named_statements("manifest_log.sql", __file__)
        self._execute(self._sql[f"{dialect}_create"].format(table=table))

    def cursors(self) -> dict[str, str]:
        """Per origin, the manifest key listings start from (see the module doc)."""
        return {str(o): str(k) for o, k in self._fetch(self._sql["cursors"].format(table=self.table))}

    def loaded_among(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` recorded as loaded."""
        loaded: set[str] = set()
        for chunk in _chunks(keys):
            sql = self._sql["loaded_among"].format(table=self.table, keys=_in_list(chunk, self._dialect))
            loaded.update(str(r[0]) for r in self._fetch(sql))
        return loaded

    def _quote(self, value: str) -> str:
        return quote_literal(value, self._dialect)

    def record(self, records: Sequence[ManifestRecord]) -> None:
        """Upsert ``records`` (delete + insert in one transaction). Does nothing if there are none."""
        if not records:
            return
        self._execute("BEGIN")
        try:
            for chunk in _chunks(records):
                keys = _in_list([r.key for r in chunk], self._dialect)
                q = self._quote
                rows = ", ".join(
                    f"({q(r.key)}, {q(r.origin)}, {q(r.status)}, "
                    f"{int(r.files)}, {int(r.rows)})"
                    for r in chunk
                )
                self._execute(self._sql["forget"].format(table=self.table, keys=keys))
                self._execute(self._sql["record"].format(table=self.table, rows=rows))
        except BaseException:
            self._execute("ROLLBACK")
            raise
        self._execute("COMMIT")
        logger.info(
            "load cursor: recorded %d manifests (%d failed)",
            len(records),
            sum(1 for r in records if r.status == "failed"),
        )


def _in_list(keys: Iterable[str], dialect: SqlDialect) -> str:
    return ", ".join(quote_literal(k, dialect) for k in keys)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_LIST_CHUNK):
        yield items[start : start + _IN_LIST_CHUNK]

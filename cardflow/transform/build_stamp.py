"""What the published Silver and Gold were built from, so a run with nothing new builds nothing.

An hourly transform often finds no new rows in RAW.EVENTS (a quiet source, a load that found no new
manifests). dbt cannot find that out cheaply: it starts, loads its manifest, runs every model's
watermark query and every test (about 5 s on a 1M-event warehouse), and the gated flow does it
twice, then gates and publishes what did not change. A :class:`BuildStamp` answers it with two
metadata aggregates:

* before a build the flow takes the stamp of its inputs: RAW.EVENTS' row count and newest
  ``loaded_at``, the number of held events, and a fingerprint of everything else that decides the
  output (the dbt project's files, the expectation suites, the project variables of
  :func:`~cardflow.transform.dbt.dbt_env`, the cardflow version);
* the publish records that stamp in ``RAW.PUBLISHED_BUILDS`` (DuckDB: in the same transaction that
  repoints the views, so the record and the layers cannot disagree; Snowflake: after the swaps, so
  a crash in between leaves the older record, which only causes one more build);
* the next run compares: the same stamp means the published layers already are what a build would
  produce, so the flow skips the builds, gates and publish (the RAW checks still run: freshness
  matters most when nothing arrives).

The stamp is taken *before* dbt reads RAW. A row committed after that either was read by the build
or not; either way it changes the count, so the next run builds. A stamp can therefore only ever
claim less than the published layers hold, never more: a skip cannot hold a loaded event back.
A full refresh never skips.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import cardflow
from cardflow.settings import Settings
from cardflow.sqlfiles import named_statements
from cardflow.transform.dbt import dbt_env, project_dir
from cardflow.warehouse.base import quote_literal
from cardflow.warehouse.connection import WarehouseSession

logger = logging.getLogger(__name__)

PUBLISHED_BUILDS_TABLE: Final = "PUBLISHED_BUILDS"
#: files of a dbt project that decide its output (target/, logs/ and packages are not among them)
_PROJECT_SUFFIXES: Final = frozenset({".sql", ".yml", ".yaml", ".csv", ".md", ".json"})
_NOT_PROJECT: Final = frozenset({"target", "logs", "dbt_packages", "dbt_internal_packages"})


@dataclass(frozen=True)
class BuildStamp:
    """What a build reads: RAW's size and newest load, the held events, and the fingerprint."""

    raw_rows: int
    raw_newest_loaded_at: datetime | None
    held_events: int
    fingerprint: str

    def differences(self, published: BuildStamp | None) -> list[str]:
        """Why a build is needed when ``published`` is what the published layers were built from
        (empty: nothing changed)."""
        if published is None:
            return ["no published build is recorded"]
        reasons = []
        if self.raw_rows != published.raw_rows:
            reasons.append(f"RAW.EVENTS holds {self.raw_rows:,} rows, the published build read {published.raw_rows:,}")
        if _utc(self.raw_newest_loaded_at) != _utc(published.raw_newest_loaded_at):
            reasons.append("RAW.EVENTS has a newer load than the published build read")
        if self.held_events != published.held_events:
            reasons.append(f"held events changed ({published.held_events} -> {self.held_events})")
        if self.fingerprint != published.fingerprint:
            reasons.append("the dbt project, the expectation suites or the project variables changed")
        return reasons


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat()


# --- the fingerprint ------------------------------------------------------------------------------
def _files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and path.suffix in _PROJECT_SUFFIXES and not (set(relative.parts) & _NOT_PROJECT):
            yield path


def build_fingerprint(settings: Settings, extra_dirs: Iterable[Path] = ()) -> str:
    """SHA-256 over the dbt project's files, the files under ``extra_dirs`` (the expectation
    suites), the project variables and the cardflow version: anything here that changes is a
    reason to build even when RAW did not change."""
    digest = hashlib.sha256(f"cardflow {cardflow.__version__}\n".encode())
    for key, value in sorted(dbt_env(settings).items()):
        if key != "CARDFLOW_DBT_THREADS":  # how fast, not what
            digest.update(f"{key}={value}\n".encode())
    for root in (project_dir(settings), *extra_dirs):
        if not root.is_dir():
            continue
        for path in _files(root):
            digest.update(f"{path.relative_to(root)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# --- reading and recording ------------------------------------------------------------------------
def _sql(warehouse: WarehouseSession, key: str) -> str:
    statements = named_statements("build_stamp.sql", __file__)
    return statements.get(f"{warehouse.dialect}_{key}") or statements[key]


def current_stamp(
    warehouse: WarehouseSession, settings: Settings, fingerprint: str, *, held_table: str | None = None
) -> BuildStamp:
    """The stamp of what a build starting now would read (``held_table``: the holds table's name
    in the RAW schema, counted when it exists)."""
    raw = settings.snowflake_raw_schema
    rows, newest = warehouse.query(_sql(warehouse, "raw_snapshot").format(raw=warehouse.qualified(raw, "EVENTS")))[0]
    held = 0
    if held_table and warehouse.table_exists(raw, held_table):
        held = int(
            warehouse.query(_sql(warehouse, "held_count").format(held=warehouse.qualified(raw, held_table)))[0][0]
        )
    return BuildStamp(int(rows), newest, held, fingerprint)


def published_stamp(warehouse: WarehouseSession, settings: Settings) -> BuildStamp | None:
    """The stamp recorded by the latest publish (None: nothing recorded yet)."""
    raw = settings.snowflake_raw_schema
    if not warehouse.table_exists(raw, PUBLISHED_BUILDS_TABLE):
        return None
    rows = warehouse.query(_sql(warehouse, "latest").format(table=warehouse.qualified(raw, PUBLISHED_BUILDS_TABLE)))
    if not rows:
        return None
    raw_rows, newest, held, fingerprint = rows[0]
    return BuildStamp(int(raw_rows), newest, int(held), str(fingerprint))


def ensure_published_builds(warehouse: WarehouseSession, settings: Settings) -> str:
    """Create ``RAW.PUBLISHED_BUILDS`` if needed (outside any transaction: DDL); returns its name."""
    raw = settings.snowflake_raw_schema
    warehouse.execute(_sql(warehouse, "create_schema").format(schema=warehouse.qualified_schema(raw)))
    table = warehouse.qualified(raw, PUBLISHED_BUILDS_TABLE)
    warehouse.execute(_sql(warehouse, "create").format(table=table))
    return table


def record_published(warehouse: WarehouseSession, settings: Settings, stamp: BuildStamp) -> None:
    """Record that the layers just published were built from ``stamp`` (the caller runs this in
    the publish transaction where the engine has one)."""
    ts = "TIMESTAMP_TZ" if warehouse.dialect == "snowflake" else "TIMESTAMPTZ"
    newest = _utc(stamp.raw_newest_loaded_at)
    warehouse.execute(
        _sql(warehouse, "record").format(
            table=warehouse.qualified(settings.snowflake_raw_schema, PUBLISHED_BUILDS_TABLE),
            raw_rows=int(stamp.raw_rows),
            raw_newest_loaded_at="NULL"
            if newest is None
            else f"CAST({quote_literal(newest, warehouse.dialect)} AS {ts})",
            held_events=int(stamp.held_events),
            fingerprint=quote_literal(stamp.fingerprint, warehouse.dialect),
        )
    )
    logger.info(
        "published build recorded: RAW %s rows through %s, %d held", f"{stamp.raw_rows:,}", newest, stamp.held_events
    )


# --- the question the flow asks -------------------------------------------------------------------
@dataclass(frozen=True)
class PendingBuild:
    """The stamp a build starting now would record, and why it must run (empty: nothing new)."""

    stamp: BuildStamp
    reasons: list[str]

    @property
    def nothing_new(self) -> bool:
        return not self.reasons


def pending_build(
    warehouse: WarehouseSession,
    settings: Settings,
    fingerprint: str,
    *,
    full_refresh: bool = False,
    held_table: str | None = None,
) -> PendingBuild:
    """Compare what a build would read now with what the published layers were built from."""
    stamp = current_stamp(warehouse, settings, fingerprint, held_table=held_table)
    reasons = ["full refresh asked for"] if full_refresh else stamp.differences(published_stamp(warehouse, settings))
    if reasons:
        logger.info("transform builds: %s", "; ".join(reasons))
    else:
        logger.info(
            "nothing new since the published build (RAW %s rows, newest load %s): build skipped",
            f"{stamp.raw_rows:,}",
            _utc(stamp.raw_newest_loaded_at),
        )
    return PendingBuild(stamp, reasons)

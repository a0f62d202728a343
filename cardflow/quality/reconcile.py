"""Reconciliation: distinct events per UTC day and event type, event store vs RAW.EVENTS.

A gap in ingestion (a backfill window skipped, a queue message lost, a load that never ran) shows
up as fewer distinct events in RAW than in the event store for the day and type it affected; more
in RAW means events reached Bronze without being in the store (real-time only) or the store lost
rows. The report also counts, per day and type, events that arrived through both real-time landing
and the backfill (their Bronze objects are listed in manifests of both origins): expected overlap,
deduplicated by event_id in Silver, and worth watching when it grows.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cardflow.bronze.layout import join
from cardflow.bronze.store import BronzeStore
from cardflow.settings import Settings
from cardflow.sqlfiles import named_statements
from cardflow.warehouse.connection import SessionOpener, WarehouseSession

logger = logging.getLogger(__name__)
Key = tuple[date, str]


@dataclass(frozen=True)
class ReconciliationRow:
    """One UTC day and event type."""

    day: date
    event_type: str
    event_store: int
    raw: int
    overlap: int = 0

    @property
    def missing_in_raw(self) -> int:
        return max(self.event_store - self.raw, 0)

    @property
    def extra_in_raw(self) -> int:
        return max(self.raw - self.event_store, 0)


@dataclass
class ReconciliationReport:
    """All days and types; ``gaps`` are the rows where RAW lacks events the store has."""

    rows: list[ReconciliationRow] = field(default_factory=list)

    @property
    def gaps(self) -> list[ReconciliationRow]:
        return [r for r in self.rows if r.missing_in_raw]

    def summary(self) -> str:
        if not self.gaps:
            return f"RAW matches the event store on {len(self.rows)} day/type pairs"
        listed = ", ".join(f"{r.day} {r.event_type}: {r.missing_in_raw} missing" for r in self.gaps[:10])
        return f"ingestion gaps on {len(self.gaps)} day/type pairs: {listed}"

    def to_markdown(self) -> str:
        lines = [
            f"# Reconciliation: {'GAPS' if self.gaps else 'OK'}",
            "",
            self.summary() + ".",
            "",
            "| day | event type | event store | RAW | missing in RAW | extra in RAW | real-time & backfill |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.day} | {r.event_type} | {r.event_store:,} | {r.raw:,} | {r.missing_in_raw:,} | "
            f"{r.extra_in_raw:,} | {r.overlap:,} |"
            for r in self.rows
        ]
        return "\n".join(lines) + "\n"


def event_store_counts(settings: Settings) -> dict[Key, int]:
    """Distinct events per UTC day and type in the Postgres event store (read-only session).

    Raises:
        EventStoreError: the store cannot be reached or has no events table (with the remedy).
    """
    from cardflow.sources.eventstore import store as eventstore

    sql = named_statements("quality_reconcile.sql", __file__)["event_store_by_day_type"].format(
        events=settings.events_table
    )
    with eventstore.connect(settings, read_only=True) as conn:
        eventstore.require_events_table(conn, settings, keyset_index=False)
        with conn.cursor() as cur:
            cur.execute(sql)
            return {(day, event_type): int(n) for day, event_type, n in cur.fetchall()}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def raw_counts(warehouse: WarehouseSession, settings: Settings) -> dict[Key, int]:
    """Distinct events per UTC day and type in RAW.EVENTS."""
    sql = named_statements("quality_raw_metrics.sql", __file__)["raw_by_day_type"].format(
        raw=settings.snowflake_raw_schema
    )
    return {(_as_date(day), str(t)): int(n) for day, t, n in warehouse.query(sql)}


def file_origins(store: Any, settings: Settings) -> dict[str, str]:
    """Bronze object key (from ``source=`` on) -> origin, read from every run manifest."""
    origins: dict[str, str] = {}
    for key in store.list_keys(join(settings.s3_prefix, "_manifests")):
        if not key.endswith(".json"):
            continue
        manifest = json.loads(store.read_bytes(key))
        for obj in manifest.get("objects", []):
            object_key = str(obj["key"])
            if "source=" in object_key:
                origins[object_key[object_key.index("source=") :]] = str(manifest.get("origin", "unknown"))
    return origins


def overlap_counts(warehouse: WarehouseSession, settings: Settings, origins: dict[str, str]) -> dict[Key, int]:
    """Events per day and type loaded from objects of more than one origin."""
    if len(set(origins.values())) < 2:
        return {}
    sql = named_statements("quality_raw_metrics.sql", __file__)["raw_overlap_by_day_type"].format(
        raw=settings.snowflake_raw_schema
    )
    pairs = sorted(origins.items())
    if warehouse.dialect == "duckdb":
        import pandas as pd

        warehouse.conn.register("file_origins", pd.DataFrame(pairs, columns=["object_key", "origin"]))
        try:
            rows = warehouse.query(sql)
        finally:
            warehouse.conn.unregister("file_origins")
    else:
        warehouse.execute(
            "CREATE OR REPLACE TEMPORARY TABLE file_origins (object_key VARCHAR, origin VARCHAR)"
        )
        cur = warehouse.conn.cursor()
        cur.executemany("INSERT INTO file_origins (object_key, origin) VALUES (%s, %s)", pairs)
        rows = warehouse.query(sql)
    return {(_as_date(day), str(t)): int(n) for day, t, n in rows}


def reconcile(
    store_counts: dict[Key, int], warehouse_counts: dict[Key, int], overlap: dict[Key, int] | None = None
) -> ReconciliationReport:
    """Join the two sides per day and type (a side without a row counts 0)."""
    overlap = overlap or {}
    merged: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for key, n in store_counts.items():
        merged[key][0] = n
    for key, n in warehouse_counts.items():
        merged[key][1] = n
    rows = [
        ReconciliationRow(day, event_type, store, raw, overlap.get((day, event_type), 0))
        for (day, event_type), (store, raw) in sorted(merged.items())
    ]
    report = ReconciliationReport(rows)
    logger.info("reconciliation: %d day/type pairs, %d with gaps", len(rows), len(report.gaps))
    return report


def reconcile_raw(
    settings: Settings,
    store: BronzeStore,
    open_session: SessionOpener,
) -> ReconciliationReport:
    """Event store vs RAW.EVENTS per UTC day and event type, with real-time/backfill overlap.

    ``store`` is the Bronze store whose manifests say which files came from which origin;
    ``open_session`` opens the warehouse session (the backend chooser's ``Backends.open_session``),
    only after the event store and the manifests have been read.
    """
    store_counts = event_store_counts(settings)
    origins = file_origins(store, settings)
    with open_session() as warehouse:
        return reconcile(
            store_counts, raw_counts(warehouse, settings), overlap_counts(warehouse, settings, origins)
        )

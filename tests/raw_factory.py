"""Fill RAW.EVENTS directly (DuckDB file or a Snowflake/fakesnow connection) for dbt and gate tests.

The real path is Bronze -> load flow -> RAW.EVENTS; tests of what sits *after* RAW (dbt, quality
gates) should not depend on it, so this helper writes the same row shape the load produces:
event_id, source, event_type, payload (JSON text; malformed payloads stay malformed: a JSON array
or string), inserted_at, ingested_at, file_name, file_row_number, loaded_at.

Typical use::

    events = generate(events=5_000, seed=7)          # envelopes, anomalies injected
    rows = raw_rows(events, file_prefix="batch-1")
    create_raw_duckdb(path); insert_raw_duckdb(path, rows)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cardflow.dev.generator import DEFAULT_END, EventGenerator, GenerationReport, GeneratorConfig
from cardflow.sqlfiles import read_sql, split_statements

ROWS_PER_FILE = 1_000


@dataclass(frozen=True)
class RawRow:
    """One RAW.EVENTS row, as the load writes it."""

    event_id: str
    source: str
    event_type: str
    payload: str
    inserted_at: datetime
    ingested_at: datetime
    file_name: str
    file_row_number: int
    loaded_at: datetime

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.source,
            self.event_type,
            self.payload,
            self.inserted_at,
            self.ingested_at,
            self.file_name,
            self.file_row_number,
            self.loaded_at,
        )


COLUMNS = (
    "event_id",
    "source",
    "event_type",
    "payload",
    "inserted_at",
    "ingested_at",
    "file_name",
    "file_row_number",
    "loaded_at",
)


def generate(
    events: int = 5_000,
    seed: int = 42,
    *,
    anomalies: bool = True,
    days: int = 30,
    end: datetime = DEFAULT_END,
    anomaly_rate: float = 0.002,
) -> tuple[list[dict[str, Any]], GenerationReport]:
    """Generated envelopes (``inserted_at`` a datetime; malformed payloads included) and the report."""
    gen = EventGenerator(
        GeneratorConfig(
            events=events, seed=seed, days=days, end=end, anomalies=anomalies, anomaly_rate=anomaly_rate
        )
    )
    return list(gen), gen.report


def raw_rows(
    envelopes: Iterable[dict[str, Any]],
    *,
    file_prefix: str = "factory",
    ingested_at: datetime | None = None,
    loaded_at: datetime | None = None,
    lag: timedelta | None = None,
) -> list[RawRow]:
    """Turn envelopes into RAW rows: ``ROWS_PER_FILE`` rows per made-up Bronze file name.

    ``ingested_at``/``loaded_at`` default to now (UTC), so source freshness passes. With ``lag``,
    each row is ingested and loaded ``lag`` after its inserted_at instead, like a history that was
    loaded as it happened (so an incremental watermark sits at the end of that history).
    """
    now = datetime.now(UTC)
    ingested = ingested_at or now
    loaded = loaded_at or now
    rows = []
    for i, event in enumerate(envelopes):
        rows.append(
            RawRow(
                event_id=event["event_id"],
                source=event["source"],
                event_type=event["event_type"],
                payload=json.dumps(event["payload"], ensure_ascii=False, separators=(",", ":")),
                inserted_at=event["inserted_at"],
                ingested_at=event["inserted_at"] + lag if lag else ingested,
                file_name=f"{file_prefix}/part-{i // ROWS_PER_FILE:05d}.json.gz",
                file_row_number=i % ROWS_PER_FILE + 1,
                loaded_at=event["inserted_at"] + lag if lag else loaded,
            )
        )
    return rows


def redeliver(
    rows: Sequence[RawRow],
    every: int,
    *,
    file_prefix: str = "redelivery",
    delay: timedelta = timedelta(minutes=5),
    at: datetime | None = None,
) -> list[RawRow]:
    """At-least-once delivery: every ``every``-th row again, from another file, ingested later
    (``delay`` after the original, or at ``at`` when given: a re-delivery loaded now).

    Same event_id and payload; Silver must keep exactly one row per event_id.
    """
    picked = list(rows[::every])
    return [
        replace(
            row,
            ingested_at=at or row.ingested_at + delay,
            loaded_at=at or row.loaded_at + delay,
            file_name=f"{file_prefix}/part-{i // ROWS_PER_FILE:05d}.json.gz",
            file_row_number=i % ROWS_PER_FILE + 1,
        )
        for i, row in enumerate(picked)
    ]


# --- DuckDB -------------------------------------------------------------------------------------
def create_raw_duckdb(path: Path, raw_schema: str = "RAW") -> None:
    """Create RAW.events/load_history in the DuckDB file with the project DDL (idempotent)."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for statement in split_statements(read_sql("duckdb_ddl.sql").replace("{raw}", raw_schema)):
            con.execute(statement)


def insert_raw_duckdb(path: Path, rows: Sequence[RawRow], raw_schema: str = "RAW") -> int:
    """Append rows to RAW.events (creating it if needed); returns the number inserted."""
    import duckdb
    import pandas as pd

    create_raw_duckdb(path, raw_schema)
    if not rows:
        return 0
    frame = pd.DataFrame([r.as_tuple() for r in rows], columns=list(COLUMNS))
    with duckdb.connect(str(path)) as con:
        con.register("incoming", frame)
        con.execute(
            f"INSERT INTO {raw_schema}.events ({', '.join(COLUMNS)}) "
            "SELECT event_id, source, event_type, payload::JSON, inserted_at, ingested_at, file_name, "
            "file_row_number, loaded_at FROM incoming"
        )
    return len(rows)


# --- Snowflake (fakesnow server or real) ----------------------------------------------------------
SNOWFLAKE_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS {raw}.EVENTS (
    EVENT_ID VARCHAR NOT NULL, SOURCE VARCHAR NOT NULL, EVENT_TYPE VARCHAR NOT NULL, PAYLOAD VARIANT,
    INSERTED_AT TIMESTAMP_TZ NOT NULL, INGESTED_AT TIMESTAMP_TZ NOT NULL, FILE_NAME VARCHAR NOT NULL,
    FILE_ROW_NUMBER NUMBER NOT NULL, LOADED_AT TIMESTAMP_TZ NOT NULL
)
"""


def create_raw_snowflake(conn: Any, database: str, raw_schema: str = "RAW") -> None:
    """Create database, schema and RAW.EVENTS (PAYLOAD VARIANT) on a Snowflake connection."""
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{raw_schema}")
    cur.execute(SNOWFLAKE_EVENTS_DDL.format(raw=f"{database}.{raw_schema}"))


def insert_raw_snowflake(
    conn: Any, rows: Sequence[RawRow], database: str, workdir: Path, raw_schema: str = "RAW"
) -> int:
    """Append rows to RAW.EVENTS through a CSV file, a ``file://`` stage and COPY INTO.

    Row-by-row INSERTs through the fakesnow server cost milliseconds each (every statement is
    transpiled); one COPY INTO of a CSV file loads thousands of rows in under a second. The CSV goes
    into a VARCHAR staging table, then one INSERT ... SELECT PARSE_JSON(...) makes PAYLOAD a real
    VARIANT (a JSON array or string payload stays an array or string). ``file://`` stages are a
    fakesnow feature; on real Snowflake the same file would be PUT to an internal stage.
    """
    import csv
    import uuid

    workdir.mkdir(parents=True, exist_ok=True)
    batch = uuid.uuid4().hex[:12]
    csv_path = workdir / f"raw-{batch}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for r in rows:
            writer.writerow(
                (
                    r.event_id,
                    r.source,
                    r.event_type,
                    r.payload,
                    _ts(r.inserted_at),
                    _ts(r.ingested_at),
                    r.file_name,
                    r.file_row_number,
                    _ts(r.loaded_at),
                )
            )
    schema = f"{database}.{raw_schema}"
    staging = f"{schema}.EVENTS_FACTORY_{batch.upper()}"
    cur = conn.cursor()
    cur.execute(
        f"CREATE TABLE {staging} (EVENT_ID VARCHAR, SOURCE VARCHAR, EVENT_TYPE VARCHAR, "
        "PAYLOAD VARCHAR, INSERTED_AT VARCHAR, INGESTED_AT VARCHAR, FILE_NAME VARCHAR, "
        "FILE_ROW_NUMBER NUMBER, LOADED_AT VARCHAR)"
    )
    try:
        cur.execute(f"CREATE OR REPLACE STAGE {schema}.FACTORY_STAGE URL='file://{workdir.resolve()}/'")
        cur.execute(
            f"COPY INTO {staging} FROM @{schema}.FACTORY_STAGE FILES=('{csv_path.name}') "
            "FILE_FORMAT=(TYPE=CSV FIELD_OPTIONALLY_ENCLOSED_BY='\"')"
        )
        cur.execute(
            f"INSERT INTO {schema}.EVENTS ({', '.join(c.upper() for c in COLUMNS)}) "
            "SELECT EVENT_ID, SOURCE, EVENT_TYPE, PARSE_JSON(PAYLOAD), INSERTED_AT::TIMESTAMP_TZ, "
            f"INGESTED_AT::TIMESTAMP_TZ, FILE_NAME, FILE_ROW_NUMBER, LOADED_AT::TIMESTAMP_TZ FROM {staging}"
        )
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {staging}")
    return len(rows)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")

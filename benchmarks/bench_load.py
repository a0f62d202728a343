"""Load throughput: cardflow's DuckDB load of Bronze vs DuckDB's own ``read_json`` of the same files.

The Bronze files (1,000,000 events by default) are generated once per (size, seed) with
``tests.bronze_factory`` under the benchmark work directory and reused by both cases, which run
back to back in fresh processes. The engine case is the ceiling: one ``CREATE TABLE AS SELECT`` over
all files with the same explicit columns (payload kept as JSON) and no bookkeeping. cardflow's case
is the real load: manifest reading, per-file checksums, file name and row number per row, and the
load_history rows in the same transactions. Target: at least 50% of the engine's events/s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb

from benchmarks.harness import BenchContext, Case

COLUMNS = (
    "{'event_id': 'VARCHAR', 'source': 'VARCHAR', 'event_type': 'VARCHAR', 'payload': 'JSON', "
    "'inserted_at': 'TIMESTAMPTZ', 'ingested_at': 'TIMESTAMPTZ'}"
)


def _lake(ctx: BenchContext) -> Path:
    return ctx.workdir / f"bronze_{ctx.events}_{ctx.seed}"


def ensure_bronze(ctx: BenchContext) -> Path:
    """Write the benchmark's Bronze files once (a marker file records that they are complete)."""
    from cardflow.bronze.store import LocalBronzeStore
    from tests.bronze_factory import generate_bronze

    lake = _lake(ctx)
    marker = lake / "complete.json"
    if not marker.exists():
        batch = generate_bronze(LocalBronzeStore(lake), "bronze", events=ctx.events, seed=ctx.seed, days=30)
        marker.write_text(json.dumps({"files": len(batch.objects), "rows": batch.rows}))
    return lake


def _prepare(ctx: BenchContext) -> dict[str, object]:
    info = json.loads((ensure_bronze(ctx) / "complete.json").read_text())
    return {"events": info["rows"], "note": f"{info['files']} files generated"}


def _engine(ctx: BenchContext) -> dict[str, object]:
    lake = _lake(ctx)
    db = ctx.workdir / "engine.duckdb"
    db.unlink(missing_ok=True)
    began = time.perf_counter()
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            f"CREATE TABLE events AS SELECT * FROM read_json('{lake}/bronze/source=*/**/*.json.gz', "
            f"format = 'newline_delimited', columns = {COLUMNS}, filename = true, hive_partitioning = false)"
        )
        rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    ctx.record("duckdb_read_json_ev_s", rows / (time.perf_counter() - began))
    return {"events": rows, "note": "read_json of all files, one CTAS"}


def _cardflow(ctx: BenchContext) -> dict[str, object]:
    from cardflow.bronze.store import LocalBronzeStore
    from cardflow.warehouse.duckdb import DuckDBLoader
    from cardflow.warehouse.load import load_files, select_files

    lake = _lake(ctx)
    settings = ctx.settings(
        data_dir=ctx.workdir / "cardflow", duckdb_path_override=ctx.workdir / "cardflow.duckdb"
    )
    settings.duckdb_path.unlink(missing_ok=True)
    store = LocalBronzeStore(lake)
    began = time.perf_counter()
    with DuckDBLoader(settings) as warehouse:
        summary = load_files(warehouse, store, select_files(store, settings))
    rate = summary.rows_loaded / (time.perf_counter() - began)
    return {
        "events": summary.rows_loaded,
        "pct_read_json": ctx.pct_of(rate, "duckdb_read_json_ev_s"),
        "note": f"{summary.loaded} files, {len(summary.failed)} failed, batch={settings.load_batch_files}",
    }


def cases(ctx: BenchContext) -> list[Case]:
    return [
        Case("load", "prepare Bronze files (once per size)", _prepare),
        Case("load", "duckdb read_json -> table (engine limit)", _engine),
        Case("load", "cardflow DuckDB load (history, checksums)", _cardflow),
    ]

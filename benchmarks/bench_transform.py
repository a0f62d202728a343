"""dbt transform: full build vs incremental after +1 % new events, the no-op floor, and the flow.

Cases run back to back in fresh processes on one DuckDB warehouse under the benchmark workdir:

1. prepare: generate N clean events (ending now) into RAW.EVENTS, each loaded 10 minutes after it
   happened, as a history loaded hour by hour would be; not a measurement of dbt.
2. full build: ``dbt build --full-refresh`` (plain dbtRunner).
3. incremental: append 1 % new events (a new day), then ``dbt build``; target <= 10 % of (2).
4. plain dbt build, no new data: dbt's own per-run floor (parse from saved state, tests on the
   increment, no-op merges). Reference for (8).
5. flow warm-up: ``dbt_transform_and_test``, +0.1 % new events, the flow again (fills both audit
   slots, as hourly runs have; not a measurement).
6. +1 % new events, the flow through PrefectDbtRunner (per-node tasks): RAW checks, audit builds,
   gates, publish, report; target <= 1.3x (3), the plain dbt build of the same increment.
7. +1 % new events, the same flow with plain dbt (CARDFLOW_DBT_NODE_TASKS=false): (6) minus (7) is
   the runner's cost.
8. the flow with nothing new: RAW checks (``dbt source freshness``), then nothing to build; its dbt
   time against the <= 2 s target.

Run: ``python -m benchmarks --events 1000000 --only transform``. Ratios are computed from the
times earlier cases recorded in ``<workdir>/transform-times.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, Case
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import Settings, load_settings

CHUNK = 200_000
LAG = timedelta(minutes=10)


PLAIN_BUILD = ("--exclude-resource-type", "unit_test")
"""The plain dbt baseline does the dbt work the flow's layer builds do: the flow leaves the dbt unit
tests to CI (CARDFLOW_DBT_SKIP_UNIT_TESTS, default true), so the baseline leaves them out too."""

def _path(ctx: BenchContext) -> Path:
    return ctx.workdir / "transform" / "warehouse.duckdb"


def _settings(ctx: BenchContext, node_tasks: bool = False) -> Settings:
    return load_settings(data_dir=ctx.workdir / "transform", duckdb_path_override=_path(ctx), dbt_node_tasks=node_tasks)


def _load(ctx: BenchContext, config: GeneratorConfig, loaded_at: datetime | None, prefix: str) -> int:
    """Insert the generated events; loaded_at None = each loaded 10 minutes after it happened."""
    from tests.raw_factory import insert_raw_duckdb, raw_rows

    batch: list[dict[str, Any]] = []
    total = 0
    for event in EventGenerator(config):
        batch.append(event)
        if len(batch) == CHUNK:
            total += insert_raw_duckdb(
                _path(ctx),
                raw_rows(
                    batch,
                    file_prefix=f"{prefix}-{total}",
                    ingested_at=loaded_at,
                    loaded_at=loaded_at,
                    lag=None if loaded_at else LAG,
                ),
            )
            batch = []
    if batch:
        total += insert_raw_duckdb(
            _path(ctx),
            raw_rows(
                batch,
                file_prefix=f"{prefix}-{total}",
                ingested_at=loaded_at,
                loaded_at=loaded_at,
                lag=None if loaded_at else LAG,
            ),
        )
    return total


def _prepare(ctx: BenchContext) -> dict[str, Any]:
    """RAW with the N base events and no Silver/Gold. Reuses a RAW from an earlier run of the same
    size (drops the increment rows and the built schemas), since generating 1M events takes minutes."""
    import duckdb

    path = _path(ctx)
    if path.exists():
        with duckdb.connect(str(path)) as con:
            con.execute("DELETE FROM RAW.events WHERE file_name NOT LIKE 'base%'")  # earlier increments
            con.execute("DROP TABLE IF EXISTS RAW.published_builds")
            base = con.execute("SELECT count(*), max(loaded_at) FROM RAW.events").fetchone()
            fresh = base and base[1] and base[1] > datetime.now(UTC) - timedelta(hours=6)
            if base and base[0] == ctx.events and fresh:
                for layer in ("SILVER", "GOLD"):
                    for schema in (layer, f"{layer}_AUDIT", f"{layer}_AUDIT_B"):
                        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                con.execute("DROP TABLE IF EXISTS main.cardflow_wap_state")
                return {"events": ctx.events, "note": "reused RAW of an earlier run (not dbt)"}
        path.unlink()
    now = datetime.now(UTC).replace(microsecond=0)
    config = GeneratorConfig(events=ctx.events, seed=ctx.seed, anomalies=False, end=now - timedelta(hours=1))
    n = _load(ctx, config, None, "base")
    return {"events": n, "note": "generate + insert into RAW (not dbt)"}


def _record(ctx: BenchContext, key: str, value: float) -> None:
    path = ctx.workdir / "transform-times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[key] = value
    path.write_text(json.dumps(times))


def _recorded(ctx: BenchContext, key: str) -> float | None:
    path = ctx.workdir / "transform-times.json"
    return (json.loads(path.read_text()) if path.exists() else {}).get(key)


def _ratio(value: float, base: float | None, target: str) -> str:
    return f"{value / base:.2f}x of {base:.1f} s ({target})" if base else "n/a"


def _timed_build(ctx: BenchContext, *args: str) -> dict[str, Any]:
    from cardflow.transform.dbt import invoke_dbt
    from cardflow.warehouse.connection import DuckDBTarget

    settings = _settings(ctx)
    start = time.perf_counter()
    summary = invoke_dbt(["build", *args, *PLAIN_BUILD], settings, DuckDBTarget(settings.duckdb_path))
    seconds = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError("; ".join(n.describe() for n in summary.failed))
    return {
        "dbt_seconds": round(seconds, 2),
        "dbt_elapsed": round(summary.elapsed_seconds, 2),
        "nodes": len(summary.nodes),
        "warnings": len(summary.warnings),
    }


def _full(ctx: BenchContext) -> dict[str, Any]:
    timed = _timed_build(ctx, "--full-refresh")
    _record(ctx, "full_s", timed["dbt_seconds"])
    return {"events": ctx.events, **timed}


def _add_increment(ctx: BenchContext, share: float, seed_offset: int, prefix: str) -> int:
    """Append ``share`` of N new events (one new day, loaded now) to RAW."""
    new = max(1, int(ctx.events * share))
    config = GeneratorConfig(events=new, seed=ctx.seed + seed_offset, days=1, end=datetime.now(UTC), anomalies=False)
    return _load(ctx, config, datetime.now(UTC), prefix)


def _incremental(ctx: BenchContext) -> dict[str, Any]:
    new = _add_increment(ctx, 0.01, 1, "increment")
    timed = _timed_build(ctx)
    _record(ctx, "incremental_s", timed["dbt_seconds"])
    full = _recorded(ctx, "full_s")
    share = f"{100 * timed['dbt_seconds'] / full:.0f}% of full (target <=10%)" if full else "n/a"
    return {"events": new, "note": "+1% new events, then dbt build", "incremental_vs_full": share, **timed}


def _plain_noop(ctx: BenchContext) -> dict[str, Any]:
    timed = _timed_build(ctx)
    _record(ctx, "noop_s", timed["dbt_seconds"])
    return {"events": 0, "note": "plain dbt build, nothing new (dbt's floor)", **timed}


def _run_flow(ctx: BenchContext, node_tasks: bool, increments: list[tuple[float, int, str]]) -> list[Any]:
    """Per increment (share, seed offset, file prefix; share 0 = nothing new): add it to RAW, run
    the flow and time it. One Prefect test server for all of them."""
    from prefect.testing.utilities import prefect_test_harness

    runs = []
    with prefect_test_harness(server_startup_timeout=120):
        from flows.transform import dbt_transform_and_test
        from tasks.limits import ensure_warehouse_limit

        ensure_warehouse_limit(1)  # what `cardflow limits` creates: the flow holds a slot strictly
        for share, seed_offset, prefix in increments:
            new = _add_increment(ctx, share, seed_offset, prefix) if share else 0
            start = time.perf_counter()
            result = dbt_transform_and_test(settings=_settings(ctx, node_tasks=node_tasks))
            runs.append((new, time.perf_counter() - start, result))
    return runs


def _flow_warmup(ctx: BenchContext) -> dict[str, Any]:
    _run_flow(ctx, node_tasks=False, increments=[(0.0, 0, ""), (0.001, 2, "warmup")])
    return {"events": 0, "note": "flow, +0.1%, flow: fills both audit slots (not a measurement)"}


def _flow_increment(ctx: BenchContext, node_tasks: bool, seed_offset: int) -> dict[str, Any]:
    [(new, seconds, result)] = _run_flow(ctx, node_tasks, [(0.01, seed_offset, f"flow-{seed_offset}")])
    return {
        "events": new,
        "flow_seconds": round(seconds, 2),
        "flow_vs_plain_dbt": _ratio(seconds, _recorded(ctx, "incremental_s"), "target <=1.3x"),
        "dbt_s": round(sum(layer["dbt_seconds"] for layer in result.layers.values()), 2),
        "gate_s": round(sum(layer["gate_seconds"] for layer in result.layers.values()), 2),
        "nodes": sum(sum(layer["dbt_counts"].values()) for layer in result.layers.values()),
    }


def _flow_prefect_dbt(ctx: BenchContext) -> dict[str, Any]:
    return _flow_increment(ctx, node_tasks=True, seed_offset=3)


def _flow_plain_dbt(ctx: BenchContext) -> dict[str, Any]:
    return _flow_increment(ctx, node_tasks=False, seed_offset=4)


def _flow_nothing_new(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.transform.freshness import newest_event_at
    from cardflow.warehouse.connection import DuckDBTarget

    [(_, seconds, result)] = _run_flow(ctx, node_tasks=False, increments=[(0.0, 0, "")])
    settings = _settings(ctx)
    start = time.perf_counter()  # the flow's one dbt command with nothing new, timed alone (dbt imported)
    newest_event_at(settings, DuckDBTarget(settings.duckdb_path))
    freshness = time.perf_counter() - start
    return {
        "events": 0,
        "note": "nothing new: RAW checks, no build (target <=2 s of dbt)",
        "flow_seconds": round(seconds, 2),
        "built": result.built,
        "dbt_build_s": round(sum(layer["dbt_seconds"] for layer in result.layers.values()), 2),
        "dbt_source_freshness_warm_s": round(freshness, 2),
    }


def cases(ctx: BenchContext) -> list[Case]:
    return [
        Case("transform", "prepare RAW (generate + insert)", _prepare),
        Case("transform", "dbt build --full-refresh", _full),
        Case("transform", "dbt build after +1% new events (incremental)", _incremental),
        Case("transform", "plain dbt build, no new data", _plain_noop),
        Case("transform", "flow warm-up (fills both audit slots)", _flow_warmup),
        Case("transform", "flow via PrefectDbtRunner, +1% new events", _flow_prefect_dbt),
        Case("transform", "flow via plain dbt, +1% new events", _flow_plain_dbt),
        Case("transform", "flow, nothing new", _flow_nothing_new),
    ]

"""Quality gates and write-audit-publish: their cost next to the dbt build they guard.

RAW.EVENTS is filled once per (size, seed) straight from the generator into a DuckDB file (the
load flow has its own benchmark), clean (no anomalies), each row loaded 10 minutes after it
happened (as hourly loads would have), plus a +1 % increment (one more day, loaded now). Each
case works on a copy of a file an earlier case left, in its own process, so its peak RSS is its
own. Cases, back to back on the same data:

1. plain ``dbt build`` of Silver and Gold from RAW (no gates): the full-build baseline.
2. the gated write-audit-publish transform on the same RAW (RAW checks, audit builds, both
   gates, one publish): full build, with the time of each step.
3. +1 % new events: plain ``dbt build`` on (1)'s result, the hourly baseline.
4. +1 % new events: the gated transform on (2)'s result (the hourly run), after one unmeasured
   run with nothing new (so both audit slots were built once): ``gated/plain`` against (3) (target
   <= 1.3x) and ``gates_s / build_s`` (target <= 25 %). (3) and (4) run in the data dirs (1) and (2)
   left, with dbt's saved parse state, as a worker's next hourly run would.
5. both gates alone on what (4) built and published (the increment, scoped as (4) scoped it):
   gate time and the gates' own peak RSS.

Freshness and volume thresholds are lifted: generated events end at a fixed date in the past.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, Case

_CHUNK = 50_000
_LAG = timedelta(minutes=10)
_RELAXED = {
    "raw_events_freshness_warn_hours": 1e6,
    "raw_events_freshness_error_hours": 1e6,
    "volume_anomaly_pct": 100,  # only an empty day is a drop: the +1 % day is smaller than the base days
    "dbt_node_tasks": False,
}


PLAIN_BUILD = ("--exclude-resource-type", "unit_test")
"""The plain dbt baseline does the dbt work the flow's layer builds do: the flow leaves the dbt unit
tests to CI (CARDFLOW_DBT_SKIP_UNIT_TESTS, default true), so the baseline leaves them out too."""

def _raw_file(ctx: BenchContext) -> Path:
    """A DuckDB file holding only RAW.EVENTS with ``ctx.events`` generated events (made once)."""
    from cardflow.dev.generator import EventGenerator, GeneratorConfig
    from tests.raw_factory import insert_raw_duckdb, raw_rows

    # each row loaded 10 minutes after it happened, as an hourly load would have: a RAW loaded all
    # at once, just now, sits inside dbt's lookback window, so "+1 %" would rebuild and re-gate it all
    path = ctx.workdir / f"quality-raw-{ctx.events}-{ctx.seed}-lag10.duckdb"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    batch: list[dict[str, Any]] = []
    written = 0
    for event in EventGenerator(GeneratorConfig(events=ctx.events, seed=ctx.seed, anomalies=False)):
        batch.append(event)
        if len(batch) == _CHUNK:
            insert_raw_duckdb(partial, raw_rows(batch, file_prefix=f"bench-{written // _CHUNK:05d}", lag=_LAG))
            written += len(batch)
            batch = []
    if batch:
        insert_raw_duckdb(partial, raw_rows(batch, file_prefix="bench-last", lag=_LAG))
    partial.rename(path)
    return path


def _increment(ctx: BenchContext) -> list[dict[str, Any]]:
    """+1 %: one more day of clean events after the base ones (same events for cases 3 and 4)."""
    from cardflow.dev.generator import DEFAULT_END, EventGenerator, GeneratorConfig

    config = GeneratorConfig(
        events=max(1, ctx.events // 100), seed=ctx.seed + 1, days=1, end=DEFAULT_END + timedelta(days=1)
    )
    return list(EventGenerator(config))


def _settings(ctx: BenchContext, name: str, start_from: Path | None) -> Any:
    """Settings of a case working in ``quality-<name>``: a fresh data dir holding a copy of
    ``start_from``, or (``start_from`` None) the data dir an earlier case left, as it is: its
    warehouse and dbt's saved parse state (a worker's data dir lives on between hourly runs)."""
    from cardflow.settings import load_settings

    data_dir = ctx.workdir / f"quality-{name}"
    if start_from is not None:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
    settings = load_settings(data_dir=data_dir, **_RELAXED)
    if start_from is not None:
        shutil.copyfile(start_from, settings.duckdb_path)
    return settings


def _add_increment(ctx: BenchContext, settings: Any) -> int:
    from tests.raw_factory import insert_raw_duckdb, raw_rows

    events = _increment(ctx)
    return insert_raw_duckdb(
        settings.duckdb_path, raw_rows(events, file_prefix="increment", loaded_at=datetime.now(UTC))
    )


def _plain_build(settings: Any) -> float:
    from cardflow.transform.dbt import invoke_dbt
    from cardflow.warehouse.connection import DuckDBTarget

    start = time.perf_counter()
    summary = invoke_dbt(["build", *PLAIN_BUILD], settings, DuckDBTarget(settings.duckdb_path))
    seconds = time.perf_counter() - start
    if not summary.success:
        raise RuntimeError(f"dbt build failed: {[n.describe() for n in summary.failed]}")
    return seconds


def _gate(layer: str, settings: Any) -> Any:
    """The quality gate of ``layer`` as ``dbt_transform_and_test`` runs it (without Prefect)."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.gate import gate_layer
    from cardflow.transform.wap import current_audit_schemas, layer_schemas

    open_session = resolve_backends(settings, needs={"warehouse"}).open_session
    audits = current_audit_schemas(settings, open_session)
    return gate_layer(
        open_session,
        layer,
        settings,
        audit_schema=audits[layer],
        silver_schema=audits["silver"],
        gold_audit_schema=audits["gold"],
        published_schema=layer_schemas(settings, layer).published,  # type: ignore[arg-type]
    )


def _gated_run(settings: Any) -> dict[str, float]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.raw_checks import run_raw_checks
    from cardflow.transform.freshness import newest_event_at
    from cardflow.transform.wap import build_layer, publish_layers

    backends = resolve_backends(settings, needs={"warehouse"})
    timings = {"raw_checks_s": 0.0, "build_s": 0.0, "gates_s": 0.0, "publish_s": 0.0}
    start = time.perf_counter()
    newest = newest_event_at(backends.settings, backends.target)  # dbt source freshness, as the flow runs it
    with backends.open_session() as warehouse:
        run_raw_checks(warehouse, settings, newest_event_at=newest).raise_on_errors()
    timings["raw_checks_s"] = time.perf_counter() - start
    for layer in ("silver", "gold"):
        start = time.perf_counter()
        build_layer(layer, settings, backends.target, backends.open_session)
        timings["build_s"] += time.perf_counter() - start
        start = time.perf_counter()
        _gate(layer, settings).raise_if_failed()
        timings["gates_s"] += time.perf_counter() - start
    start = time.perf_counter()
    publish_layers(["silver", "gold"], settings, backends.open_session)
    timings["publish_s"] = time.perf_counter() - start
    return timings


def _record(ctx: BenchContext, key: str, value: Any) -> None:
    path = ctx.workdir / "quality-times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[key] = value
    path.write_text(json.dumps(times))


def _recorded(ctx: BenchContext, key: str) -> Any:
    path = ctx.workdir / "quality-times.json"
    return (json.loads(path.read_text()) if path.exists() else {}).get(key)


def _plain_full(ctx: BenchContext) -> dict[str, Any]:
    settings = _settings(ctx, "plain", _raw_file(ctx))
    seconds = _plain_build(settings)
    _record(ctx, "plain_full_s", seconds)
    return {"events": ctx.events, "dbt_s": round(seconds, 1), "note": "dbt build, no gates (baseline)"}


def _gated_full(ctx: BenchContext) -> dict[str, Any]:
    settings = _settings(ctx, "gated", _raw_file(ctx))
    start = time.perf_counter()
    timings = _gated_run(settings)
    total = time.perf_counter() - start
    plain = _recorded(ctx, "plain_full_s")
    return {
        "events": ctx.events,
        **{k: round(v, 1) for k, v in timings.items()},
        "gates_share_of_build": f"{100 * timings['gates_s'] / timings['build_s']:.0f}%",
        "gated_vs_plain": f"{total / plain:.2f}x" if plain else "n/a",
    }


def _plain_increment(ctx: BenchContext) -> dict[str, Any]:
    settings = _settings(ctx, "plain", None)  # (1)'s warehouse and dbt state, as the next hourly run finds them
    new = _add_increment(ctx, settings)
    seconds = _plain_build(settings)
    _record(ctx, "plain_increment_s", seconds)
    return {"events": new, "dbt_s": round(seconds, 1), "note": "+1% new events: dbt build, no gates (baseline)"}


def _gated_increment(ctx: BenchContext) -> dict[str, Any]:
    settings = _settings(ctx, "gated", None)  # (2)'s warehouse and dbt state
    # steady state, not measured: one run with nothing new, so this run's audit slots were built
    # before (dbt's parse state per slot exists, as it does from the third hourly run on)
    _gated_run(settings)
    new = _add_increment(ctx, settings)
    start = time.perf_counter()
    timings = _gated_run(settings)
    total = time.perf_counter() - start
    shutil.copyfile(settings.duckdb_path, ctx.workdir / "quality-gated-increment-result.duckdb")
    plain = _recorded(ctx, "plain_increment_s")
    share = timings["gates_s"] / timings["build_s"]
    return {
        "events": new,
        **{k: round(v, 1) for k, v in timings.items()},
        "gates_share_of_build": f"{100 * share:.0f}% (target <=25%)",
        "gated_vs_plain": f"{total / plain:.2f}x (target <=1.3x)" if plain else "n/a",
    }


def _published_run_schemas(settings: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(the slots (4) built, gated and published; the slots published before it) per layer: what
    (4)'s gates saw. After a publish the flow's next audit slot is the older one, so the gates must
    be pointed back at the published run explicitly."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.transform.wap import layer_schemas, slot_state

    built, before = {}, {}
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        for layer in ("silver", "gold"):
            live = slot_state(warehouse, layer).live
            if live is None:
                raise RuntimeError(f"{layer} was never published in {settings.duckdb_path}")
            built[layer], before[layer] = live, layer_schemas(settings, layer).other_slot(live)  # type: ignore[arg-type]
    return built, before


def _gates_only(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.gate import gate_layer

    settings = _settings(ctx, "gates-only", ctx.workdir / "quality-gated-increment-result.duckdb")
    built, before = _published_run_schemas(settings)
    open_session = resolve_backends(settings, needs={"warehouse"}).open_session
    rows = 0
    seconds = {}
    started = time.perf_counter()
    for layer in ("silver", "gold"):
        result = gate_layer(
            open_session,
            layer,  # type: ignore[arg-type]
            settings,
            audit_schema=built[layer],
            silver_schema=built["silver"],
            gold_audit_schema=built["gold"],
            published_schema=before[layer],
        )
        if not result.success:
            raise RuntimeError(f"{layer} gate failed on clean data: {result.failures()[:3]}")
        rows += sum(m.rows for m in result.models)
        seconds[f"{layer}_gate_s"] = round(result.seconds, 1)
    return {
        "events": ctx.events,
        "rows_gated": rows,
        **seconds,
        "gates_with_docs_s": round(time.perf_counter() - started, 1),  # + parameters, Data Docs, GX start
        "chunk_rows": settings.quality_chunk_rows,
    }


def cases(ctx: BenchContext) -> list[Case]:
    _raw_file(ctx)  # generated here, outside the measured cases
    return [
        Case("quality", "dbt build Silver+Gold, full (no gates)", _plain_full),
        Case("quality", "gated WAP transform, full", _gated_full),
        Case("quality", "+1%: dbt build (no gates)", _plain_increment),
        Case("quality", "+1%: gated WAP transform (hourly run)", _gated_increment),
        Case("quality", "+1%: Silver+Gold gates alone", _gates_only),
    ]

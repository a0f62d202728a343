"""Quality gates: their cost next to the transform they guard, and their peak memory.

RAW.EVENTS is filled once per (size, seed) straight from the generator into a DuckDB file (the
load flow has its own benchmark); each case works on a copy of that file, in its own process, so
its peak RSS is its own. Cases, back to back on the same data:

1. ``dbt build`` of Silver and Gold without gates (plain dbtRunner): the transform's wall time.
2. the gated write-audit-publish transform (RAW checks, audit builds, both gates, publishes),
   with the time of each step: ``gates_s`` / ``build_s`` is the gates' share of the transform.
3. both gates alone on the audit tables case 2 left: gate time and the gates' own peak RSS.

Targets (issue 6): gates add <= 25 % to the transform's wall time; peak RSS <= 1 GB.
Freshness thresholds are lifted: generated events end at a fixed date in the past.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, Case

_CHUNK = 50_000
_RELAXED = {
    "raw_events_freshness_warn_hours": 1e6,
    "raw_events_freshness_error_hours": 1e6,
    "dbt_node_tasks": False,
}


def _raw_file(ctx: BenchContext) -> Path:
    """A DuckDB file holding only RAW.EVENTS with ``ctx.events`` generated events (made once)."""
    from cardflow.dev.generator import EventGenerator, GeneratorConfig
    from tests.raw_factory import insert_raw_duckdb, raw_rows

    path = ctx.workdir / f"quality-raw-{ctx.events}-{ctx.seed}.duckdb"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    batch: list[dict[str, Any]] = []
    written = 0
    for event in EventGenerator(GeneratorConfig(events=ctx.events, seed=ctx.seed, anomalies=False)):
        batch.append(event)
        if len(batch) == _CHUNK:
            insert_raw_duckdb(partial, raw_rows(batch, file_prefix=f"bench-{written // _CHUNK:05d}"))
            written += len(batch)
            batch = []
    if batch:
        insert_raw_duckdb(partial, raw_rows(batch, file_prefix="bench-last"))
    partial.rename(path)
    return path


def _settings(ctx: BenchContext, name: str) -> Any:
    from cardflow.settings import load_settings

    data_dir = ctx.workdir / f"quality-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = load_settings(data_dir=data_dir, **_RELAXED)
    shutil.copyfile(_raw_file(ctx), settings.duckdb_path)
    return settings


def _plain_build(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.transform.dbt import invoke_dbt
    from cardflow.warehouse.connection import DuckDBTarget

    settings = _settings(ctx, "plain")
    summary = invoke_dbt(["build"], settings, DuckDBTarget(settings.duckdb_path))
    if not summary.success:
        raise RuntimeError(f"dbt build failed: {[n.describe() for n in summary.failed]}")
    return {"events": ctx.events, "note": "dbt build, no gates (baseline)"}


def _gate(layer: str, settings: Any) -> Any:
    """The quality gate of ``layer`` as ``dbt_transform_and_test`` runs it (without Prefect)."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.gate import gate_layer
    from cardflow.transform.wap import layer_schemas

    return gate_layer(
        resolve_backends(settings, needs={"warehouse"}).open_session,
        layer,
        settings,
        audit_schema=layer_schemas(settings, layer).audit,
        silver_schema=layer_schemas(settings, "silver").published,
        gold_audit_schema=layer_schemas(settings, "gold").audit,
    )


def _gated(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.raw_checks import run_raw_checks
    from cardflow.transform.wap import build_layer, publish_layer

    settings = _settings(ctx, "gated")
    backends = resolve_backends(settings, needs={"warehouse"})
    timings = {"raw_checks_s": 0.0, "build_s": 0.0, "gates_s": 0.0, "publish_s": 0.0}
    start = time.perf_counter()
    with backends.open_session() as warehouse:
        run_raw_checks(warehouse, settings).raise_on_errors()
    timings["raw_checks_s"] = time.perf_counter() - start
    for layer in ("silver", "gold"):
        steps = (
            ("build_s", lambda layer=layer: build_layer(layer, settings, backends.target, backends.open_session)),
            ("gates_s", lambda layer=layer: _gate(layer, settings).raise_if_failed()),
            ("publish_s", lambda layer=layer: publish_layer(layer, settings, backends.open_session)),
        )
        for step, fn in steps:
            start = time.perf_counter()
            fn()
            timings[step] += time.perf_counter() - start
    overhead = timings["gates_s"] + timings["raw_checks_s"] + timings["publish_s"]
    shutil.copyfile(settings.duckdb_path, ctx.workdir / "quality-gated-result.duckdb")
    return {
        "events": ctx.events,
        **{k: round(v, 1) for k, v in timings.items()},
        "quality_share_of_build": f"{100 * overhead / timings['build_s']:.0f}%",
    }


def _gates_only(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.settings import load_settings

    data_dir = ctx.workdir / "quality-gates-only"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = load_settings(data_dir=data_dir, **_RELAXED)
    shutil.copyfile(ctx.workdir / "quality-gated-result.duckdb", settings.duckdb_path)
    rows = 0
    seconds = {}
    for layer in ("silver", "gold"):
        result = _gate(layer, settings)
        if not result.success:
            raise RuntimeError(f"{layer} gate failed on clean data: {result.failures()[:3]}")
        rows += sum(m.rows for m in result.models)
        seconds[f"{layer}_gate_s"] = round(result.seconds, 1)
    return {"events": ctx.events, "rows_gated": rows, **seconds, "chunk_rows": settings.quality_chunk_rows}


def cases(ctx: BenchContext) -> list[Case]:
    _raw_file(ctx)  # generated here, outside the measured cases
    return [
        Case("quality", "dbt build Silver+Gold (no gates)", _plain_build),
        Case("quality", "gated WAP transform (checks+gates+publish)", _gated),
        Case("quality", "Silver+Gold gates alone", _gates_only),
    ]

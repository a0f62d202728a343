"""Backfill throughput: cardflow's backfill vs the raw COPY limit vs dlt, on the same events.

Cases (each in a fresh process; peak RSS is the case's own):

- cardflow backfill -> moto S3 (the server runs in a separate process, started once for the
  benchmark, so its memory is not counted but its CPU competes, as a real network store would not)
- cardflow backfill -> local store
- raw ``COPY (SELECT row_to_json(e) FROM events e) TO STDOUT`` into a local file: the limit
- moto's own PUT ceiling: the same number of objects of the same sizes as the S3 backfill wrote,
  PUT by as many threads, with nothing else to do
- the backfill fanned out over time slices (:mod:`cardflow.sources.eventstore.slices`) with 1 and 2
  workers (same range, 8 slices)
- a backfill of 5x the events (5M at the default size, over 5x the days: same traffic per hour)
  into the local store: its peak RSS must be flat (at most 1.1x the 1x run's and 300 MB)
- dlt ``sql_database`` -> ``filesystem``: default backend with jsonl, and pyarrow with parquet

Each row's note relates it to its baseline measured in the same run: ``pct_raw`` (% of the raw
COPY rate), ``pct_put_ceiling`` (% of moto's PUT ceiling), ``x_dlt`` (how many times faster than
cardflow's local backfill is than that dlt case), ``rss_vs_1x``.

The cardflow cases call :func:`cardflow.sources.eventstore.backfill.run_backfill` (the flow's three task bodies without
Prefect's API round trips, which cost the same fixed seconds at any size).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.data import ensure_events
from benchmarks.harness import BenchContext, Case, peak_rss_mb


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_endpoint(ctx: BenchContext) -> str:
    """Start (once) a moto S3 server in its own process; stopped when the benchmark exits."""
    if "moto_endpoint" not in ctx.extra:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(proc.terminate)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        ctx.extra["moto_endpoint"] = f"http://127.0.0.1:{port}"
    return str(ctx.extra["moto_endpoint"])


def _cardflow(
    ctx: BenchContext, *, slices: int = 1, workers: int = 1, **overrides: Any
) -> dict[str, Any]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.sources.eventstore.backfill import run_backfill
    from cardflow.sources.eventstore.slices import run_sliced_backfill

    settings = ctx.settings(data_dir=ctx.workdir / f"backfill-{uuid.uuid4().hex[:8]}", **overrides)
    store = resolve_backends(settings, needs={"bronze"}).store()
    began = time.perf_counter()
    if slices > 1:
        result = run_sliced_backfill(settings, store, slices=slices, workers=workers)
    else:
        result = run_backfill(settings, store)
    rate = result.rows_read / (time.perf_counter() - began)
    return {
        "events": result.rows_read,
        "objects": result.objects_written,
        "quarantined": result.quarantined,
        "pct_raw": ctx.pct_of(rate, "raw_copy_ev_s"),
        "_rate": rate,
    }


def _rate(row: dict[str, Any]) -> float:
    return float(row.pop("_rate"))


def _backfill_s3(ctx: BenchContext) -> dict[str, Any]:
    import boto3

    endpoint = str(ctx.extra["moto_endpoint"])
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    row = _cardflow(
        ctx,
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    rate = _rate(row)
    sizes = [
        obj["Size"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for obj in page.get("Contents", [])
        if "/source=" in obj["Key"]
    ]
    ctx.record("s3_part_sizes", sizes)
    ctx.record("s3_backfill_ev_s", rate)
    return row | {"MB": round(sum(sizes) / 1e6)}


def _put_ceiling(ctx: BenchContext) -> dict[str, Any]:
    """PUT the S3 backfill's objects' sizes (random bytes) with its upload threads, nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    sizes: list[int] = ctx.recorded("s3_part_sizes") or []
    if not sizes:
        raise RuntimeError("run the S3 backfill case first (it records the objects to PUT)")
    threads = ctx.settings().backfill_upload_concurrency
    endpoint = str(ctx.extra["moto_endpoint"])
    bucket = f"ceiling-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=32),
    )
    client.create_bucket(Bucket=bucket)
    blob = os.urandom(max(sizes))
    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        puts = [pool.submit(client.put_object, Bucket=bucket, Key=f"o/{i}", Body=blob[:n]) for i, n in enumerate(sizes)]
        for put in puts:
            put.result()
    seconds = time.perf_counter() - began
    rate = ctx.events / seconds  # the events those objects hold, per second of PUTs alone
    ctx.record("put_ceiling_ev_s", rate)
    s3_rate = ctx.recorded("s3_backfill_ev_s")
    return {
        "events": ctx.events,
        "objects": len(sizes),
        "puts_per_s": round(len(sizes) / seconds),
        "MB_per_s": round(sum(sizes) / seconds / 1e6, 1),
        "pct_raw": ctx.pct_of(rate, "raw_copy_ev_s"),
        "s3_backfill_pct_put_ceiling": round(100 * s3_rate / rate) if s3_rate else None,
    }


def _backfill_local(ctx: BenchContext) -> dict[str, Any]:
    row = _cardflow(ctx)
    ctx.record("local_backfill_ev_s", _rate(row))
    ctx.record("local_backfill_rss_mb", peak_rss_mb())
    return row


def _sliced(ctx: BenchContext, workers: int) -> dict[str, Any]:
    row = _cardflow(ctx, slices=8, workers=workers)
    rate = _rate(row)
    ctx.record(f"sliced_{workers}_ev_s", rate)
    one = ctx.recorded("sliced_1_ev_s")
    return row | ({"x_1_worker": round(rate / one, 2)} if workers > 1 and one else {})


def _sliced_1(ctx: BenchContext) -> dict[str, Any]:
    return _sliced(ctx, 1)


def _sliced_2(ctx: BenchContext) -> dict[str, Any]:
    return _sliced(ctx, 2)


def _five_times(ctx: BenchContext) -> dict[str, Any]:
    """A backfill of 5x the events into the local store: is peak memory flat?"""
    big = _five_times_context(ctx)
    from cardflow.backends.chooser import resolve_backends
    from cardflow.sources.eventstore.backfill import run_backfill

    baseline = peak_rss_mb()
    settings = big.settings(data_dir=ctx.workdir / f"backfill5x-{uuid.uuid4().hex[:8]}")
    result = run_backfill(settings, resolve_backends(settings, needs={"bronze"}).store())
    peak = peak_rss_mb()
    one = ctx.recorded("local_backfill_rss_mb")
    return {
        "events": result.rows_read,
        "peak_rss_mb": round(peak),
        "rss_before_backfill_mb": round(baseline),
        "rss_vs_1x": round(peak / one, 2) if one else None,
        "note": "peak RSS is this row's figure (target <= 1.1x the 1x local run, <= 300 MB)",
    }


def _five_times_context(ctx: BenchContext) -> BenchContext:
    """5x the events over 5x the days: a longer history at the same traffic, as a real backfill
    of a bigger range is (5x the events in the same days would make every hourly part 5x bigger)."""
    return dataclasses.replace(ctx, events=5 * ctx.events, days=5 * ctx.days)


def _raw_copy(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.sources.eventstore import store as eventstore

    settings = ctx.settings()
    target = ctx.workdir / f"raw-{uuid.uuid4().hex[:8]}.ndjson"
    with eventstore.connect(settings, read_only=True) as conn, conn.cursor() as cur, target.open("wb") as out:
        cur.copy_expert(f"COPY (SELECT row_to_json(e) FROM {settings.events_table} e) TO STDOUT", out)
        rows = cur.rowcount
    size = target.stat().st_size
    target.unlink()
    return {"events": rows, "MB": round(size / 1e6)}


def _raw_copy_measured(ctx: BenchContext) -> dict[str, Any]:
    began = time.perf_counter()
    row = _raw_copy(ctx)
    ctx.record("raw_copy_ev_s", row["events"] / (time.perf_counter() - began))
    return row


def _dlt(ctx: BenchContext, backend: str, file_format: str) -> dict[str, Any]:
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # its per-chunk json->string warnings
    import dlt
    from dlt.sources.sql_database import sql_database

    settings = ctx.settings()
    out = ctx.workdir / f"dlt-{backend}-{uuid.uuid4().hex[:8]}"
    credentials = f"postgresql://{settings.postgres_user}@{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
    source = sql_database(credentials=credentials, table_names=[settings.events_table], backend=backend)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{backend}_{uuid.uuid4().hex[:6]}",
        destination=dlt.destinations.filesystem(bucket_url=out.as_uri()),
        dataset_name="bronze",
        pipelines_dir=str(out / ".dlt"),
    )
    began = time.perf_counter()
    pipeline.run(source, loader_file_format=file_format)
    trace = pipeline.last_trace
    rows = sum(
        n
        for table, n in (trace.last_normalize_info.row_counts.items() if trace.last_normalize_info else [])
        if table == settings.events_table
    )
    rate = rows / (time.perf_counter() - began)
    local = ctx.recorded("local_backfill_ev_s")
    return {"events": rows, "x_dlt": round(local / rate, 1) if local else None}


def _dlt_jsonl(ctx: BenchContext) -> dict[str, Any]:
    return _dlt(ctx, "sqlalchemy", "jsonl")


def _dlt_pyarrow(ctx: BenchContext) -> dict[str, Any]:
    return _dlt(ctx, "pyarrow", "parquet")


def cases(ctx: BenchContext) -> list[Case]:
    ensure_events(ctx)
    ensure_events(_five_times_context(ctx))  # here, so that generating is not in the 5x row's memory
    _moto_endpoint(ctx)
    Path(ctx.workdir).mkdir(parents=True, exist_ok=True)
    return [
        Case("backfill", "raw COPY row_to_json -> local file (limit)", _raw_copy_measured),
        Case("backfill", "cardflow backfill -> moto S3", _backfill_s3),
        Case("backfill", "moto PUT ceiling (same objects, no extract)", _put_ceiling),
        Case("backfill", "cardflow backfill -> local store", _backfill_local),
        Case("backfill", "backfill 8 slices, 1 worker -> local", _sliced_1),
        Case("backfill", "backfill 8 slices, 2 workers -> local", _sliced_2),
        Case("backfill", "backfill 5x events -> local (peak RSS)", _five_times),
        Case("backfill", "dlt sql_database -> filesystem (jsonl)", _dlt_jsonl),
        Case("backfill", "dlt sql_database pyarrow -> parquet", _dlt_pyarrow),
    ]

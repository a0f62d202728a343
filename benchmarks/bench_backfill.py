"""Backfill throughput: cardflow's backfill vs the raw COPY limit vs dlt, on the same events.

Cases (each in a fresh process; peak RSS is the case's own):

- cardflow backfill -> moto S3 (the server runs in a separate process, started once for the
  benchmark, so its memory is not counted but its CPU competes, as a real network store would not)
- cardflow backfill -> local store
- raw ``COPY (SELECT row_to_json(e) FROM events e) TO STDOUT`` into a local file: the limit
- dlt ``sql_database`` -> ``filesystem``: default backend with jsonl, and pyarrow with parquet

The cardflow cases call :func:`cardflow.sources.eventstore.backfill.run_backfill` (the flow's three task bodies without
Prefect's API round trips, which cost the same fixed seconds at any size).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.data import ensure_events
from benchmarks.harness import BenchContext, Case


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


def _cardflow(ctx: BenchContext, **overrides: Any) -> dict[str, Any]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.sources.eventstore.backfill import run_backfill

    settings = ctx.settings(data_dir=ctx.workdir / f"backfill-{uuid.uuid4().hex[:8]}", **overrides)
    result = run_backfill(settings, resolve_backends(settings, needs={"bronze"}).store())
    return {"events": result.rows_read, "objects": result.objects_written, "quarantined": result.quarantined}


def _backfill_s3(ctx: BenchContext) -> dict[str, Any]:
    import boto3

    endpoint = str(ctx.extra["moto_endpoint"])
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return _cardflow(
        ctx,
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _backfill_local(ctx: BenchContext) -> dict[str, Any]:
    return _cardflow(ctx)


def _raw_copy(ctx: BenchContext) -> dict[str, Any]:
    from cardflow.sources.eventstore import store as eventstore

    settings = ctx.settings()
    target = ctx.workdir / f"raw-{uuid.uuid4().hex[:8]}.ndjson"
    with eventstore.connect(settings) as conn, conn.cursor() as cur, target.open("wb") as out:
        cur.copy_expert(f"COPY (SELECT row_to_json(e) FROM {settings.events_table} e) TO STDOUT", out)
        rows = cur.rowcount
    size = target.stat().st_size
    target.unlink()
    return {"events": rows, "MB": round(size / 1e6)}


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
    pipeline.run(source, loader_file_format=file_format)
    trace = pipeline.last_trace
    rows = sum(
        n
        for table, n in (trace.last_normalize_info.row_counts.items() if trace.last_normalize_info else [])
        if table == settings.events_table
    )
    return {"events": rows}


def _dlt_jsonl(ctx: BenchContext) -> dict[str, Any]:
    return _dlt(ctx, "sqlalchemy", "jsonl")


def _dlt_pyarrow(ctx: BenchContext) -> dict[str, Any]:
    return _dlt(ctx, "pyarrow", "parquet")


def cases(ctx: BenchContext) -> list[Case]:
    ensure_events(ctx)
    _moto_endpoint(ctx)
    Path(ctx.workdir).mkdir(parents=True, exist_ok=True)
    return [
        Case("backfill", "raw COPY row_to_json -> local file (limit)", _raw_copy),
        Case("backfill", "cardflow backfill -> moto S3", _backfill_s3),
        Case("backfill", "cardflow backfill -> local store", _backfill_local),
        Case("backfill", "dlt sql_database -> filesystem (jsonl)", _dlt_jsonl),
        Case("backfill", "dlt sql_database pyarrow -> parquet", _dlt_pyarrow),
    ]

"""Shared fixtures: one Prefect test harness per session, real PostgreSQL, moto S3, fakesnow.

Integration fixtures use the services this machine runs (PostgreSQL at 127.0.0.1:5432, RabbitMQ at
127.0.0.1:5672); servers that cannot run here for real (S3, Snowflake) are started on loopback by
the fixtures (moto's S3 server, fakesnow's server).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cardflow.settings import Settings, load_settings, reset_settings_cache

PG_HOST = os.environ.get("CARDFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CARDFLOW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CARDFLOW_TEST_PG_USER", "postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect API for the whole session (~10 s to start; minutes when the machine is
    loaded by parallel test runs, hence the generous timeout)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=600):
        # the harness is a Prefect server: warehouse writers take the `warehouse` slot strictly,
        # so create it as `cardflow limits` would on a real one
        from tasks.limits import ensure_warehouse_limit

        ensure_warehouse_limit(1)
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or shares the process-wide settings cache; an embedded
    PostgreSQL a test started (under its tmp_path) is stopped when the test ends."""
    from cardflow.sources.eventstore.store import stop_embedded

    monkeypatch.chdir(tmp_path)
    reset_settings_cache()
    yield
    reset_settings_cache()
    stop_embedded()


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """Embedded defaults under a temporary data dir (embedded Postgres, local lake, DuckDB)."""
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh database on the real local PostgreSQL, dropped afterwards."""
    import psycopg2

    name = f"cardflow_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def pg_settings(tmp_path: Path, pg_database: str) -> Settings:
    """Settings pointing at the real local PostgreSQL (fresh database) with a local lake."""
    return load_settings(
        data_dir=tmp_path / "data",
        postgres_host=PG_HOST,
        postgres_port=PG_PORT,
        postgres_user=PG_USER,
        postgres_db=pg_database,
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint on loopback (moto's threaded server)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with Bronze in a fresh bucket of the moto server (embedded Postgres, DuckDB)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"cardflow-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return load_settings(
        data_dir=tmp_path / "data",
        s3_bucket=bucket,
        s3_endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A fakesnow server (Snowflake stand-in, DuckDB underneath) for the real connector and dbt."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("fakesnow")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("fakesnow server did not start within 60 s")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


class _SlackStandIn(BaseHTTPRequestHandler):
    """Answers Slack incoming-webhook posts with 200 and keeps each JSON body."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local Slack stand-in on loopback: (webhook URL, the alerts it received)."""
    received: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Slack", (_SlackStandIn,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T1/B1/hook", received
    server.shutdown()
    server.server_close()

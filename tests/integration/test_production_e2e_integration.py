"""Production on a worker that knows only block names: Gold lands in Snowflake, nothing in DuckDB.

The setup an operator follows in docs/production.md, on loopback, with stand-ins for the cloud:

* a real ``prefect server start`` (its scheduler off, so only the run this test creates runs);
* S3 = moto's S3 server (a fresh bucket); Snowflake = fakesnow's server with ``tests.fakesnow_ext``,
  which reads the production ``s3://BUCKET/bronze/`` stage from moto as Snowflake's storage
  integration would read the bucket (the SQL cardflow sends is the production SQL); Slack = a local
  HTTP stand-in;
* the operator's machine (full credentials in its environment) runs ``cardflow limits``,
  ``cardflow bootstrap`` (sql/snowflake_ddl.sql on the warehouse) and, in the ``blocks`` variant,
  ``cardflow blocks``, which saves AwsCredentials/S3Bucket, SnowflakeCredentials/SnowflakeConnector
  (with the stand-in's host/port/protocol, which prefect-snowflake accepts) and SlackWebhook;
* ``prefect deploy --name medallion_pipeline`` from a copy of the checkout (so the deployment's pull
  step, the embedded event store under ``.cardflow`` and any file a run writes stay inside this
  test's directory, and no developer ``.env`` is read);
* a process worker whose environment holds, in the ``blocks`` variant, only the three
  ``CARDFLOW_*_BLOCK`` names and PREFECT_API_URL, besides process basics (PATH, HOME, locale),
  PYTHONPATH (the harness's editable install points elsewhere), Prefect client settings
  (PREFECT_HOME, worker polling) and two non-secret behaviour switches the stand-in needs:
  CARDFLOW_SNOWFLAKE_PUBLISH_MODE=clone (fakesnow has no ``ALTER TABLE ... SWAP WITH``) and
  CARDFLOW_DBT_SKIP_UNIT_TESTS=true (dbt unit tests need TEMPORARY tables fakesnow lacks). Neither
  is a credential or a connection setting: in this variant the worker's environment has no
  credential and no connection setting at all (checked below against every cardflow variable).

The event store is the embedded PostgreSQL of the worker's checkout (``.cardflow`` beside
prefect.yaml, where the pull step puts every run): ``cardflow generate`` fills it beforehand, as a
producer would, and the worker's environment has no POSTGRES_* variable.

The ``env`` variant runs the same deployment with the credentials as variables in the worker's
environment (SNOWFLAKE_*, S3_*, AWS_*, SLACK_WEBHOOK_URL, CARDFLOW_WAREHOUSE=snowflake) and no block
saved, and without SNOWFLAKE_ROLE (optional: the user's default role is used, also by the GX
gate, which asks the session for it).

Both check what reached the warehouse: RAW.EVENTS holds every generated event (read from S3 by
COPY INTO), and SPORTS_CARD_ANALYTICS.GOLD holds exactly the orders, cards and batches the events
imply; Bronze is in the bucket, and no ``*.duckdb`` file exists anywhere under the test's directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig
from tests.expected import expected_gold
from tests.prefect_server import PrefectServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "SPORTS_CARD_ANALYTICS"
# events up to the current hour: the transform's RAW freshness check fails a run on stale data
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
EVENTS = GeneratorConfig(events=3_000, seed=12, days=3, end=NOW)
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "e2e-access-key", "AWS_SECRET_ACCESS_KEY": "e2e-secret-key-never-logged"}
SNOWFLAKE_LOGIN = {
    "SNOWFLAKE_ACCOUNT": "cardflow-e2e",
    "SNOWFLAKE_USER": "cardflow",
    "SNOWFLAKE_PASSWORD": "sf-pass-e2e-never-logged",
    "SNOWFLAKE_ROLE": "CARDFLOW_PIPELINE",  # the role docs/production.md sets up
}
BLOCK_NAMES = {
    "CARDFLOW_S3_BUCKET_BLOCK": "cardflow-bronze",
    "CARDFLOW_SNOWFLAKE_BLOCK": "cardflow-snowflake",
    "CARDFLOW_SLACK_BLOCK": "cardflow-slack",
}
# not credentials, not connection settings: how to publish and which dbt nodes to run on the stand-in
STAND_IN_SWITCHES = {"CARDFLOW_SNOWFLAKE_PUBLISH_MODE": "clone", "CARDFLOW_DBT_SKIP_UNIT_TESTS": "true"}
PROCESS_BASICS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME", "TZ")
# what a checkout copy leaves out: VCS data, caches, local state, a developer's .env
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".cardflow", ".env", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
    "*.duckdb", "target", "logs", "dbt_packages", ".user.yml",
)  # fmt: skip
RUN_TIMEOUT_SECONDS = 420


# --- stand-ins -------------------------------------------------------------------------------------
@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"cardflow-e2e-{uuid.uuid4().hex[:8]}"
    _s3(moto_endpoint).create_bucket(Bucket=name)
    return name


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def fakesnow(tmp_path: Path, moto_endpoint: str) -> Iterator[int]:
    """A fresh fakesnow server (in memory) that reads ``s3://`` stage files from the moto endpoint."""
    port = free_port()
    workdir = tmp_path / "fakesnow"
    workdir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAKESNOW_S3_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
        **AWS_KEYS,
    }
    log = (workdir / "fakesnow.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakesnow_ext", "-p", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"fakesnow_ext server did not start:\n{(workdir / 'fakesnow.log').read_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrefectServer]:
    # no scheduler: the deployment's cron schedules must not add runs beside the one under test
    srv = PrefectServer(tmp_path / "prefect-home", extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"})
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    """A copy of the repository, deployed from and run in by the worker (pull step = this path)."""
    path = tmp_path / "checkout"
    shutil.copytree(ROOT, path, ignore=NOT_COPIED)
    try:
        yield path
    finally:
        _stop_embedded_postgres(path / ".cardflow" / "pgdata")


# --- helpers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StandIns:
    moto: str
    bucket: str
    fakesnow_port: int
    slack_url: str

    def operator_env(self) -> dict[str, str]:
        """What the operator's machine holds: every credential and endpoint, as variables."""
        return {
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.moto,
            "AWS_REGION": "us-east-1",
            **AWS_KEYS,
            **SNOWFLAKE_LOGIN,
            "SNOWFLAKE_HOST": "localhost",
            "SNOWFLAKE_PORT": str(self.fakesnow_port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SLACK_WEBHOOK_URL": self.slack_url,
        }


def _cardflow(env: Mapping[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cardflow", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"cardflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _cardflow_variables() -> set[str]:
    """Every environment variable cardflow's settings read."""
    from cardflow.settings import Settings

    names: set[str] = set()
    for field in Settings.model_fields.values():
        names.update(getattr(field.validation_alias, "choices", None) or [])
    return names


def _worker_env(server: PrefectServer, checkout: Path, tmp_path: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """Process basics, PYTHONPATH, Prefect client settings and ``settings``: nothing else."""
    basics = {k: os.environ[k] for k in PROCESS_BASICS if k in os.environ}
    client_only = ("PREFECT_SERVER", "PREFECT_API_DATABASE")
    prefect = {k: v for k, v in server.env.items() if k.startswith("PREFECT_") and not k.startswith(client_only)}
    prefect["PREFECT_HOME"] = str(tmp_path / "worker-home")
    return basics | prefect | {"PYTHONPATH": str(checkout)} | dict(settings)


def _run_to_completion(server: PrefectServer, deployment_id: str) -> dict[str, Any]:
    """Create one run of the deployment and wait for that run (not any other) to finish."""
    run = server.api("POST", f"/deployments/{deployment_id}/create_flow_run", {})
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for name, proc, _ in server.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log(name)}")
        current = server.api("GET", f"/flow_runs/{run['id']}")
        if current["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return current
        time.sleep(1)
    raise AssertionError(
        f"run {run['id']} not finished within {RUN_TIMEOUT_SECONDS} s\n{server.run_logs(run['id'])}\n"
        f"{server.worker_logs()}"
    )


def _warehouse_counts(port: int) -> dict[str, int]:
    import snowflake.connector

    conn = snowflake.connector.connect(
        account=SNOWFLAKE_LOGIN["SNOWFLAKE_ACCOUNT"],
        user=SNOWFLAKE_LOGIN["SNOWFLAKE_USER"],
        password=SNOWFLAKE_LOGIN["SNOWFLAKE_PASSWORD"],
        role=SNOWFLAKE_LOGIN["SNOWFLAKE_ROLE"],
        host="localhost",
        port=port,
        protocol="http",
    )
    tables = {
        "raw_events": "RAW.EVENTS",
        "orders": "GOLD.FCT_ORDERS",
        "distinct_orders": "GOLD.FCT_ORDERS",
        "skus": "GOLD.DIM_CARD",
        "batches": "GOLD.FCT_BATCH_PERFORMANCE",
    }
    try:
        cur = conn.cursor()
        counts = {}
        for name, table in tables.items():
            what = "COUNT(DISTINCT order_id)" if name == "distinct_orders" else "COUNT(*)"
            counts[name] = int(cur.execute(f"SELECT {what} FROM {DATABASE}.{table}").fetchone()[0])
        return counts
    finally:
        conn.close()


def _stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the server the worker's flow runs started there (pgserver's own clean-up would only
    detach this process and leave it running)."""
    from cardflow.sources.eventstore.store import stop_embedded_at

    stop_embedded_at(pgdata)


# --- the test --------------------------------------------------------------------------------------
@pytest.mark.parametrize("credentials", ["blocks", "env"])
def test_worker_runs_production_pipeline_into_snowflake(
    credentials: str,
    tmp_path: Path,
    server: PrefectServer,
    checkout: Path,
    fakesnow: int,
    moto_endpoint: str,
    bucket: str,
    slack: tuple[str, list[dict[str, Any]]],
) -> None:
    slack_url, alerts = slack
    stand_ins = StandIns(moto=moto_endpoint, bucket=bucket, fakesnow_port=fakesnow, slack_url=slack_url)
    cli_env = server.env | {"PYTHONPATH": str(checkout)}  # no cardflow setting: clean_environment()
    operator = cli_env | stand_ins.operator_env()

    # 1. the operator: pool, warehouse limit, warehouse objects, blocks
    server.cli("work-pool", "create", "cardflow-process", "--type", "process", "--overwrite", cwd=checkout)
    assert "warehouse=1" in _cardflow(cli_env, checkout, "limits")
    bootstrap = _cardflow(operator, checkout, "bootstrap")
    assert "bootstrap (snowflake)" in bootstrap, bootstrap
    if credentials == "blocks":
        saved = _cardflow(operator, checkout, "blocks")
        for block in ("s3-bucket/cardflow-bronze", "snowflake-connector/cardflow-snowflake"):
            assert block in saved, saved
        assert "slack-webhook/cardflow-slack" in saved, saved
        secrets = (AWS_KEYS["AWS_SECRET_ACCESS_KEY"], SNOWFLAKE_LOGIN["SNOWFLAKE_PASSWORD"], slack_url)
        assert not any(secret in saved for secret in secrets)
        settings = {**BLOCK_NAMES, **STAND_IN_SWITCHES}
    else:
        # no SNOWFLAKE_ROLE on the worker: the user's default role serves every consumer (GX included)
        operator_vars = {k: v for k, v in stand_ins.operator_env().items() if k != "SNOWFLAKE_ROLE"}
        settings = {**operator_vars, "CARDFLOW_WAREHOUSE": "snowflake", **STAND_IN_SWITCHES}

    # 2. producers: events in the embedded event store of the checkout the worker runs in
    generate = ["generate", "--events", str(EVENTS.events), "--seed", str(EVENTS.seed), "--days", str(EVENTS.days)]
    generated = json.loads(_cardflow(cli_env, checkout, *generate, "--end", EVENTS.end.isoformat()))
    expected = expected_gold(EventGenerator(EVENTS))

    # 3. deploy from the checkout, start the worker with nothing but `settings` of cardflow's
    server.cli("deploy", "--name", "medallion_pipeline", cwd=checkout, env=cli_env)
    deployment = server.deployment("medallion_pipeline", "medallion_pipeline")
    assert deployment["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(checkout)}}
    ]
    worker_env = _worker_env(server, checkout, tmp_path, settings)
    if credentials == "blocks":  # of cardflow's variables, the worker holds block names and switches only
        assert set(worker_env) & _cardflow_variables() == set(BLOCK_NAMES) | set(STAND_IN_SWITCHES)
        assert not [k for k in worker_env if k.startswith(("AWS_", "SNOWFLAKE_", "POSTGRES_", "SLACK_"))]
    (tmp_path / "worker").mkdir()
    server.start_worker("cardflow-process", cwd=tmp_path / "worker", env=worker_env)

    # 4. one run of the production pipeline
    run = _run_to_completion(server, deployment["id"])
    assert run["state_type"] == "COMPLETED", f"{server.run_logs(run['id'])}\n{server.worker_logs()}"

    # 5. what it did: no DuckDB anywhere, Bronze in S3 only, RAW and Gold in Snowflake, one warning
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.duckdb")) == []
    keys = [o["Key"] for o in _s3(moto_endpoint).list_objects_v2(Bucket=bucket, Prefix="bronze/").get("Contents", [])]
    assert any(k.endswith(".json.gz") for k in keys), keys
    assert not (checkout / ".cardflow" / "lake").exists()
    counts = _warehouse_counts(fakesnow)
    assert counts["raw_events"] == generated["inserted"] == EVENTS.events
    assert counts["orders"] == counts["distinct_orders"] == expected.orders > 0
    assert counts["skus"] == expected.skus > 0
    assert counts["batches"] == expected.batches > 0
    # no failure alert; the generator's data trips warn-level dbt tests (oversold SKUs), which the
    # run reports as exactly one quality warning, through the Slack credentials it was given
    assert [a["text"].split("\n", 1)[0] for a in alerts] == [
        ":warning: *cardflow quality warning in dbt_transform_and_test*"
    ], alerts
    blocks = {b["name"] for b in server.api("POST", "/block_documents/filter", {}) if not b.get("is_anonymous")}
    if credentials == "blocks":
        assert set(BLOCK_NAMES.values()) <= blocks
    else:
        assert not {b for b in blocks if b.startswith("cardflow-")}, blocks  # the env path saved none

"""End to end on loopback: a real ``prefect server start``, ``prefect deploy --all``, a process worker.

One test, in phases, because the server and worker take a while to start on a small machine:

1. server, work pool, ``cardflow limits`` (warehouse concurrency limit) and ``cardflow blocks``
   (a SlackWebhook block pointing at a local stand-in for Slack) against the server;
2. ``prefect --no-prompt deploy --all`` from the checkout's prefect.yaml;
3. ``prefect deployment run`` of medallion_pipeline: Completed, Gold equals what the generated
   events imply, run named after what it did, the data's warn-level dbt tests posted as ONE
   quality warning;
4. ``cardflow webhook`` (default mode) receives an Amazon MQ batch, lands it in Bronze and emits
   ``cardflow.mq.batch.landed``; the deployment trigger runs mq_realtime_landing with the manifest
   key and batch id only (no message in any parameter), and the run records the batch;
5. a run of the backfill deployment pointed at a closed Postgres port fails and posts exactly one
   alert (through the block) naming flow, deployment, run, state, error and link, with no secret;
6. ``cardflow automations`` creates the server-side alert automations (idempotently).

Settings reach the worker through its environment only (embedded Postgres in a temporary
CARDFLOW_DATA_DIR, local lake, DuckDB). Everything started is stopped at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from cardflow.bronze.layout import is_part_key
from cardflow.bronze.store import LocalBronzeStore
from cardflow.bronze.writer import decode_lines
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import load_settings
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.mq.messages import RawMessage
from cardflow.sources.mq.outgoing import outgoing_for_event
from deployments.webhook_app import sign
from tests.expected import expected_gold
from tests.prefect_server import PrefectServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# events up to the current hour: the transform's RAW freshness check fails a run on stale data
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
BATCH = GeneratorConfig(events=1_200, seed=5, days=3, end=NOW)
REALTIME = GeneratorConfig(events=12, seed=99, days=1, end=NOW)
SECRET = "pg-pass-never-shown"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrefectServer]:
    srv = PrefectServer(tmp_path / "prefect-home")
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def _cardflow(server: PrefectServer, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cardflow", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"cardflow {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _gold_counts(duckdb_path: Path) -> dict[str, Any]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return {
            "skus": con.execute("select count(*) from GOLD.dim_card").fetchone()[0],
            "orders": con.execute("select count(*) from GOLD.fct_orders").fetchone()[0],
            "batches": con.execute("select count(*) from GOLD.fct_batch_performance").fetchone()[0],
        }


def _bronze_event_ids(lake: Path, prefix: str) -> set[str]:
    store = LocalBronzeStore(lake)
    ids = set()
    for key in store.list_keys(prefix):
        if is_part_key(key):
            ids.update(json.loads(line)["event_id"] for line in decode_lines(store.read_bytes(key)))
    return ids


def _post_to_webhook(
    tmp_path: Path, env: dict[str, str], document: dict[str, Any], *, wait: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Serve ``cardflow webhook`` (default mode) against the server, POST one signed batch, and
    keep the receiver up until ``wait`` returns (it emits the landed event asynchronously)."""
    secret, port = "hook-secret", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardflow", "webhook", "--port", str(port)],
        cwd=tmp_path,
        env=env | {"CARDFLOW_WEBHOOK_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("webhook did not become healthy: " + proc.stdout.read1().decode()[-2000:])
                time.sleep(0.3)
        body = json.dumps(document).encode()
        signed = {"x-cardflow-signature": sign(secret, body)}
        response = httpx.post(f"{base}/mq", content=body, headers=signed, timeout=120)
        assert response.status_code == 200, response.text
        return response.json() | {"run": wait()}
    finally:
        proc.terminate()
        proc.wait(30)


def test_deploy_run_trigger_and_alert_on_a_real_server(
    tmp_path: Path, server: PrefectServer, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    slack_url, received = slack
    data_dir = tmp_path / "data"
    settings = load_settings(data_dir=data_dir)
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, EventGenerator(BATCH), settings)
    expected = expected_gold(EventGenerator(BATCH))

    flow_env = server.env | {
        "PYTHONPATH": str(ROOT),
        "CARDFLOW_DATA_DIR": str(data_dir),
        "CARDFLOW_SLACK_BLOCK": "cardflow-slack",
        "POSTGRES_PASSWORD": SECRET,  # unused by embedded Postgres; must never appear in an alert
    }
    try:
        # 1. server-side setup through our own commands
        server.cli("work-pool", "create", "cardflow-process", "--type", "process", "--overwrite", cwd=ROOT)
        assert "warehouse=1" in _cardflow(server, flow_env, "limits")
        saved = _cardflow(server, flow_env | {"SLACK_WEBHOOK_URL": slack_url}, "blocks")
        assert "slack-webhook/cardflow-slack" in saved and slack_url not in saved

        # 2. deploy everything in prefect.yaml
        server.cli("deploy", "--all", cwd=ROOT, env=flow_env)
        deployments = {d["name"]: d for d in server.api("POST", "/deployments/filter", {})}
        assert set(deployments) == {
            "events_backfill_to_s3",
            "s3_to_snowflake_load_raw",
            "dbt_transform_and_test",
            "medallion_pipeline",
            "mq_realtime_landing",
            "bronze_replay",
            "nightly_reconciliation",
        }
        pipeline = deployments["medallion_pipeline"]
        assert {s["schedule"]["timezone"] for s in pipeline["schedules"]} == {"UTC", "America/New_York"}
        assert pipeline["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        server.start_worker("cardflow-process", cwd=tmp_path, env=flow_env)

        # 3. the batch pipeline, run from its deployment by the worker
        flow_name = server.api("GET", f"/flows/{pipeline['flow_id']}")["name"]
        server.cli("deployment", "run", f"{flow_name}/medallion_pipeline", cwd=tmp_path, env=flow_env)
        run = server.wait_for_run(pipeline["id"], timeout=420)
        assert run["state_type"] == "COMPLETED", server.run_logs(run["id"])
        assert run["name"].startswith("medallion-") and run["name"].endswith("-incremental")
        gold = _gold_counts(settings.duckdb_path)
        assert gold == {"skus": expected.skus, "orders": expected.orders, "batches": expected.batches}
        artifacts = server.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
        assert any(a["key"] == "medallion-pipeline" for a in artifacts)
        # the generator's data trips warn-level dbt tests: the run posts them as ONE quality warning
        assert [post["cardflow"]["kind"] for post in received] == ["quality_warning"], received
        warnings_posted = len(received)
        _assert_watchable(server, settings, run["id"])

        # 4. real time: the webhook lands the batch itself and emits cardflow.mq.batch.landed; the
        #    trigger runs mq_realtime_landing with ids only, and the run reads the batch's manifest
        events = list(EventGenerator(REALTIME))
        messages = []
        for event in events:
            out = outgoing_for_event(event)
            raw = RawMessage(body=out.body, content_type=out.content_type, headers=out.headers)
            messages.append(raw.to_wire())
        realtime = deployments["mq_realtime_landing"]
        answer = _post_to_webhook(
            tmp_path, flow_env, {"eventSource": "aws:rmq", "rmqMessagesByQueue": {"cardflow.events::/": messages}},
            wait=lambda: server.wait_for_run(realtime["id"], timeout=240),
        )  # fmt: skip
        landed = answer.pop("run")
        assert landed["state_type"] == "COMPLETED", server.run_logs(landed["id"])
        assert landed["parameters"] == {"manifest_key": answer["manifest_key"], "batch_id": answer["batch_id"]}
        assert landed["name"] == f"mq-batch-{answer['batch_id']}"
        bronze_ids = _bronze_event_ids(settings.lake_dir, settings.s3_prefix)
        assert {str(e["event_id"]) for e in events} <= bronze_ids
        artifacts = server.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [landed["id"]]}}})
        assert any(a["key"] == "mq-realtime-landing" for a in artifacts)

        # 5. a failing run posts exactly one alert, through the SlackWebhook block
        backfill = deployments["events_backfill_to_s3"]
        backfill_flow = server.api("GET", f"/flows/{backfill['flow_id']}")["name"]
        server.cli(
            "deployment", "run", f"{backfill_flow}/events_backfill_to_s3",
            "--job-variable", "env=" + json.dumps({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "9"}),
            cwd=tmp_path,
        )  # fmt: skip
        failed = server.wait_for_run(backfill["id"], timeout=240)
        assert failed["state_type"] == "FAILED"
        deadline = time.monotonic() + 30
        while len(received) <= warnings_posted and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a second (duplicate) alert would arrive by now
        assert len(received) == warnings_posted + 1, received
        failure = received[-1]
        fields = failure["cardflow"]
        assert fields["flow"] == backfill_flow
        assert fields["deployment"] == f"{backfill_flow}/events_backfill_to_s3"
        assert failed["id"] in fields["run"]
        assert fields["state"] == "Failed"
        assert fields["link"] == f"{server.ui_url}/runs/flow-run/{failed['id']}"
        assert fields["summary"]
        assert fields["kind"] == "flow_failure"
        text = json.dumps(failure)
        assert SECRET not in text and slack_url not in text

        # 6. the server-side alternative: automations created against the Slack block
        applied = _cardflow(server, flow_env, "automations")
        assert "cardflow-flow-run-unreported" in applied and "cardflow-quality-unposted" in applied
        _cardflow(server, flow_env, "automations")  # idempotent: replaced, not duplicated
        # (the deployment trigger is an automation too: `mq_realtime_landing__automation_1`)
        automations = [a for a in server.api("POST", "/automations/filter", {}) if a["name"].startswith("cardflow-")]
        names = sorted(a["name"] for a in automations)
        assert names == ["cardflow-flow-run-unreported", "cardflow-quality-unposted"]
        block = server.api("GET", "/block_types/slug/slack-webhook/block_documents/name/cardflow-slack")
        assert all(a["actions"][0]["block_document_id"] == block["id"] for a in automations)
    finally:
        server.stop()
        _stop_embedded_postgres(settings.pgdata_dir)


def _stop_embedded_postgres(pgdata: Path) -> None:
    eventstore.stop_embedded_at(pgdata)


def _subflow_run(server: PrefectServer, parent_run_id: str, flow_name: str) -> dict[str, Any]:
    """The one run of ``flow_name`` that the pipeline run ``parent_run_id`` called as a subflow (the
    server also holds the scheduled runs of deployments of the same flow, e.g. nightly_reconciliation)."""
    body = {"flows": {"name": {"any_": [flow_name]}}, "flow_runs": {"parent_flow_run_id": {"any_": [parent_run_id]}}}
    runs = server.api("POST", "/flow_runs/filter", body)
    assert len(runs) == 1, [
        (r["name"], r["state_type"], r["parent_task_run_id"], r["deployment_id"], r["start_time"]) for r in runs
    ]
    return runs[0]


def _asset_edges(server: PrefectServer) -> dict[str, set[str]]:
    """asset key -> its upstream asset keys, from the materialization events (what the UI draws)."""
    body = {"filter": {"event": {"prefix": ["prefect.asset.materialization.succeeded"]}}, "limit": 50}
    page = server.api("POST", "/events/filter", body)
    events = list(page["events"])
    while page.get("next_page"):
        page = httpx.get(page["next_page"], timeout=30).json()
        events += page["events"]
    edges: dict[str, set[str]] = {}
    for event in events:
        upstream = {r["prefect.resource.id"] for r in event["related"] if r["prefect.resource.role"] == "asset"}
        edges.setdefault(event["resource"]["prefect.resource.id"], set()).update(upstream)
    return edges


def _assert_watchable(server: PrefectServer, settings: Any, pipeline_run_id: str) -> None:
    """What a user watching the UI sees after one pipeline run: the asset chain, the backfill's
    chunk lines in its run logs, and the transform run's link to the Data Docs page."""
    store_key = f"postgres://embedded/{settings.postgres_db}/{settings.events_table}"
    bronze_key = (settings.lake_dir / settings.s3_prefix).as_uri()
    raw_key = f"duckdb://{settings.duckdb_path.stem}/raw/events"
    deadline = time.monotonic() + 60
    while True:  # events reach the API asynchronously
        edges = _asset_edges(server)
        if f"duckdb://{settings.duckdb_path.stem}/gold/fct_orders" in edges or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert edges[bronze_key] == {store_key}, edges
    assert edges[raw_key] == {bronze_key}
    silver = {k for k in edges if "/silver/stg_" in k}
    assert {k.rsplit("/", 1)[1] for k in silver} >= {
        "stg_order_created", "stg_card_catalog_entry_inserted", "stg_manufacturing_batch",
    }  # fmt: skip
    assert all(edges[k] == {raw_key} for k in silver)
    for gold in ("dim_card", "fct_orders", "fct_batch_performance"):
        assert edges[f"duckdb://{settings.duckdb_path.stem}/gold/{gold}"] & silver, gold

    backfill = _subflow_run(server, pipeline_run_id, "events-backfill-to-s3")
    logs = server.run_logs(backfill["id"])
    assert "chunk 0 committed" in logs and "rows read" in logs, logs

    transform = _subflow_run(server, pipeline_run_id, "dbt_transform_and_test")
    # (Prefect stores link artifacts as markdown "[text](link)")
    artifacts = server.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [transform["id"]]}}})
    docs = [a for a in artifacts if (a["key"] or "").startswith("data-docs")]
    assert {a["key"] for a in docs} == {"data-docs-silver", "data-docs-gold"}, [a["key"] for a in artifacts]
    for artifact in docs:
        link = artifact["data"].split("](", 1)[1].rstrip(")") if artifact["data"].startswith("[") else artifact["data"]
        assert link.startswith("file://"), link
        page = Path(link.removeprefix("file://"))
        assert page.is_file() and "<html" in page.read_text()[:2000].lower(), page

"""Operating cardflow on a real ``prefect server``: ``cardflow serve`` beside deployed workers, and a
crashed deployment run that alerts without ``cardflow automations``.

One test, in phases (a server, a deploy and a worker take a while on a small machine):

1. ``prefect deploy --all`` and a process worker; Slack (a local stand-in) only through
   SLACK_WEBHOOK_URL in the worker's environment, no automations applied;
2. ``cardflow serve`` started beside it refuses, naming the deployments and what to do; the deployed
   schedules, pools and pull steps are exactly as before;
3. a run of medallion_pipeline still completes on the worker (and posts at most one quality warning);
4. a second run's flow process is SIGKILLed: the worker marks it Crashed and runs the flow's
   ``on_crashed`` hook, which posts exactly one alert (no automation exists yet);
5. the backstop automations (``cardflow automations``, what ``make deploy`` applies) stay quiet for
   runs the hooks reported, and fire for a failed run whose hook could not post.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import load_settings
from cardflow.sources.eventstore import store as eventstore
from tests.prefect_server import PrefectServer
from tests.unit.test_deployments import EXPECTED as DEPLOYMENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
EVENTS = GeneratorConfig(events=600, seed=11, days=3, end=NOW)

#: the backstop's grace window in this test (180 s in production): the hooks here report within
#: seconds, and waiting out two production windows cost more than 3 minutes of the suite
REPORT_WINDOW = 45


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrefectServer]:
    srv = PrefectServer(tmp_path / "prefect-home")
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def _deployed_state(server: PrefectServer) -> dict[str, Any]:
    """What a stray ``serve`` would change: pool, pull steps, paused flag, each schedule's activity."""
    return {
        d["name"]: (
            d["work_pool_name"],
            d["pull_steps"],
            d["paused"],
            sorted((s["schedule"]["cron"], s["active"]) for s in d["schedules"]),
        )
        for d in server.api("POST", "/deployments/filter", {})
    }


def _pause_schedules(server: PrefectServer) -> None:
    """Deactivate every deployment schedule and delete the runs the scheduler already created."""
    for deployment in server.api("POST", "/deployments/filter", {}):
        for schedule in deployment["schedules"]:
            server.api("PATCH", f"/deployments/{deployment['id']}/schedules/{schedule['id']}", {"active": False})
    scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    for run in server.api("POST", "/flow_runs/filter", scheduled):
        server.api("DELETE", f"/flow_runs/{run['id']}")
    assert server.api("POST", "/flow_runs/filter", scheduled) == []


def _wait_slots_released(server: PrefectServer, timeout: float) -> None:
    """Wait until no cardflow concurrency limit has a slot taken.

    A SIGKILLed run cannot release its slots: they stay taken until their lease expires (Prefect's
    300 s) and the server's repossessor revokes it. Whether the killed pipeline run had taken one
    depends on how far it got (its backfill stage takes ``backfill-<table>``); the next runs wait
    for it, which is the behaviour, so the test waits for the release before timing them.
    """
    deadline = time.monotonic() + timeout
    taken: list[tuple[str, int]] = []
    while time.monotonic() < deadline:
        limits = server.api("POST", "/v2/concurrency_limits/filter", {})
        taken = [(limit["name"], limit["active_slots"]) for limit in limits if limit["active_slots"]]
        if not taken:
            return
        time.sleep(2)
    raise AssertionError(f"slots still taken after {timeout} s: {taken}")


def _alerts(received: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [post["cardflow"] for post in received if post.get("cardflow", {}).get("kind") == kind]


def _backstop_firings(server: PrefectServer) -> list[str]:
    """The ``prefect.automation.triggered`` events of the flow-run backstop (their payload names the
    run in ``triggering_labels``), as JSON text. Its Slack action itself cannot deliver here: the
    SlackWebhook block only posts to hooks.slack.com URLs, not to the loopback stand-in."""
    automation = next(
        a for a in server.api("POST", "/automations/filter", {}) if a["name"] == "cardflow-flow-run-unreported"
    )
    body = {"filter": {"resource": {"id": [f"prefect.automation.{automation['id']}"]}}, "limit": 50}
    events = server.api("POST", "/events/filter", body)["events"]
    return [json.dumps(e) for e in events if e["event"] == "prefect.automation.triggered"]


def _wait_running(server: PrefectServer, deployment_id: str, exclude: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in server.flow_runs(deployment_id):
            if run["id"] not in exclude and run["state_type"] == "RUNNING" and run.get("infrastructure_pid"):
                return run
        time.sleep(0.5)
    raise AssertionError(f"no running run within {timeout} s\n{server.worker_logs()}")


def test_serve_refuses_beside_workers_and_a_killed_run_alerts_once(
    tmp_path: Path, server: PrefectServer, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    slack_url, received = slack
    data_dir = tmp_path / "data"
    settings = load_settings(data_dir=data_dir)
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, EventGenerator(EVENTS), settings)
    flow_env = server.env | {
        "PYTHONPATH": str(ROOT),
        "CARDFLOW_DATA_DIR": str(data_dir),
        "CARDFLOW_DBT_NODE_TASKS": "false",
        "SLACK_WEBHOOK_URL": slack_url,
    }
    try:
        # 1. the worker path
        server.cli("work-pool", "create", "cardflow-process", "--type", "process", "--overwrite", cwd=ROOT)
        subprocess.run([sys.executable, "-m", "cardflow", "limits"], cwd=ROOT, env=flow_env, check=True, timeout=300)
        server.cli("deploy", "--all", cwd=ROOT, env=flow_env)
        deployed = _deployed_state(server)
        assert set(deployed) == DEPLOYMENTS
        assert deployed["medallion_pipeline"][3] == [("10 * * * *", True), ("30 3 * * *", True)]
        # from here on only this test's runs: a scheduled run starting mid-test (at :10 past the
        # hour, or 03:30) would take the warehouse slot the test's own runs wait for
        _pause_schedules(server)
        deployed = _deployed_state(server)
        server.start_worker("cardflow-process", cwd=tmp_path, env=flow_env)

        # 2. serve beside it refuses with a clear message and changes nothing
        served = subprocess.run(
            [sys.executable, "-m", "cardflow", "serve"],
            cwd=tmp_path, env=flow_env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert served.returncode == 1, served.stdout + served.stderr
        message = served.stderr
        assert "worker-pool deployments" in message and "serve did not start" in message
        assert "prefect worker start --pool cardflow-process" in message
        assert "prefect deployment delete" in message
        for name in DEPLOYMENTS:
            assert f"/{name} (work pool cardflow-process)" in message
        assert _deployed_state(server) == deployed  # schedules still active, pools and pull steps kept

        # 3. a deployment run still completes on the worker
        pipeline = server.deployment("medallion_pipeline", "medallion_pipeline")
        server.cli("deployment", "run", "medallion_pipeline/medallion_pipeline", cwd=tmp_path, env=flow_env)
        done = server.wait_for_run(pipeline["id"], timeout=600)
        assert done["state_type"] == "COMPLETED", server.run_logs(done["id"])
        assert len(_alerts(received, "quality_warning")) <= 1  # never one post per warning
        assert _alerts(received, "flow_failure") == []

        # 4. SIGKILL of the flow process: Crashed, and exactly one alert without any automation
        assert not [a for a in server.api("POST", "/automations/filter", {}) if a["name"].startswith("cardflow-")]
        server.cli("deployment", "run", "medallion_pipeline/medallion_pipeline", cwd=tmp_path, env=flow_env)
        running = _wait_running(server, pipeline["id"], {done["id"]}, timeout=300)
        os.kill(int(str(running["infrastructure_pid"]).rsplit(":", 1)[-1]), signal.SIGKILL)
        crashed = server.wait_for_run(pipeline["id"], timeout=240, exclude=frozenset({done["id"]}))
        assert crashed["state_type"] == "CRASHED", crashed["state_name"]
        deadline = time.monotonic() + 120
        while not _alerts(received, "flow_failure") and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(5)  # a duplicate alert would have arrived by now
        alerts = _alerts(received, "flow_failure")
        assert len(alerts) == 1, (received, server.worker_logs())
        assert alerts[0]["state"] == "Crashed"
        assert crashed["id"] in alerts[0]["run"]
        assert alerts[0]["deployment"] == "medallion_pipeline/medallion_pipeline"
        _wait_slots_released(server, timeout=420)  # the killed run's lease, if it had taken a slot

        # 5. the backstop (what `make deploy` applies): quiet for a failure the hook posted, fires for
        #    a failure whose hook could not post
        blocks_env = flow_env | {"SLACK_WEBHOOK_URL": slack_url}
        subprocess.run([sys.executable, "-m", "cardflow", "blocks"], cwd=ROOT, env=blocks_env, check=True, timeout=300)
        applied = subprocess.run(
            [sys.executable, "-m", "cardflow", "automations", "--report-window", str(REPORT_WINDOW)],
            cwd=ROOT, env=flow_env, capture_output=True, text=True, timeout=300, check=True,
        ).stdout  # fmt: skip
        assert "cardflow-flow-run-unreported" in applied and "cardflow-quality-unposted" in applied
        backfill = server.deployment("events-backfill-to-s3", "events_backfill_to_s3")
        runs: dict[str, dict[str, Any]] = {}
        for label, slack_for_run in (("posted", slack_url), ("unposted", "http://127.0.0.1:9/unreachable")):
            env = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "9", "SLACK_WEBHOOK_URL": slack_for_run}
            server.cli(
                "deployment", "run", "events-backfill-to-s3/events_backfill_to_s3",
                "--job-variable", "env=" + json.dumps(env), cwd=tmp_path, env=flow_env,
            )  # fmt: skip
            runs[label] = server.wait_for_run(
                backfill["id"], timeout=300, exclude=frozenset(r["id"] for r in runs.values())
            )
            assert runs[label]["state_type"] == "FAILED"
        posted_at = time.monotonic()
        assert len(_alerts(received, "flow_failure")) == 2  # the crash and the first backfill failure
        deadline = time.monotonic() + REPORT_WINDOW + 240
        while not _backstop_firings(server) and time.monotonic() < deadline:
            time.sleep(5)
        time.sleep(max(0.0, posted_at + REPORT_WINDOW + 20 - time.monotonic()))  # both windows are over
        firings = _backstop_firings(server)
        assert len(firings) == 1, firings
        assert runs["unposted"]["id"] in firings[0] and runs["posted"]["id"] not in firings[0]
        assert slack_url not in str(received)
    finally:
        server.stop()
        eventstore.stop_embedded_at(settings.pgdata_dir)  # started by the served flow runs, not by this process

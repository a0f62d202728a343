"""Alerts: a failed run posts exactly one Slack message with the run's facts and no secret.

A local HTTP server stands in for Slack's incoming webhook and records every POST body.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any

import pytest
from prefect import flow
from prefect.settings import PREFECT_UI_URL, temporary_settings

from cardflow.errors import ContractViolation
from cardflow.settings import Settings, load_settings
from tasks.alerts import Alert, RunContext, alert_on_failure, notify, post_alert, scrub

DB_PASSWORD = "s3cr3t-db-pass"
AWS_SECRET = "AKIA-very-secret-key"


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(500 if self.path.endswith("/fail") else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback stand-in for Slack: (webhook URL, received POST bodies)."""
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert_settings(tmp_path: Any, slack: tuple[str, list[dict[str, Any]]]) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        slack_webhook_url=slack[0],
        postgres_password=DB_PASSWORD,
        aws_secret_access_key=AWS_SECRET,
    )


@flow(name="alert_probe", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def failing_flow(settings: Settings | None = None) -> None:
    # an error message that (wrongly) carries secrets: the alert must not repeat them
    raise ContractViolation(
        "bad_payload", f"could not read postgresql://loader:{DB_PASSWORD}@db:5432/x with key {AWS_SECRET}"
    )


@flow(name="alert_child", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def failing_child(settings: Settings | None = None) -> None:
    raise RuntimeError("child broke")


@flow(name="alert_parent", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def failing_parent(settings: Settings | None = None) -> None:
    failing_child(settings=settings)


def _all_text(body: dict[str, Any]) -> str:
    return json.dumps(body)


def test_failed_run_posts_exactly_one_alert_with_run_facts_and_no_secret(
    alert_settings: Settings, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = slack
    with temporary_settings({PREFECT_UI_URL: "http://prefect.example:4200"}):
        state = failing_flow(settings=alert_settings, return_state=True)
    assert state.is_failed()
    assert len(received) == 1
    body = received[0]["body"]
    fields = body["cardflow"]
    assert fields["kind"] == "flow_failure"
    assert fields["flow"] == "alert_probe"
    assert fields["state"] == "Failed"
    assert fields["deployment"] == "(none: ad hoc run)"
    run_id = str(state.state_details.flow_run_id)
    assert run_id in fields["run"]
    assert fields["link"] == f"http://prefect.example:4200/runs/flow-run/{run_id}"
    assert fields["summary"].startswith("ContractViolation: bad_payload")
    assert "alert_probe" in body["text"] and run_id in body["text"]
    text = _all_text(body)
    for secret in (DB_PASSWORD, AWS_SECRET, url, "loader:"):
        assert secret not in text


def test_subflow_failure_is_reported_once_by_the_parent(
    alert_settings: Settings, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    _, received = slack
    state = failing_parent(settings=alert_settings, return_state=True)
    assert state.is_failed()
    assert len(received) == 1
    fields = received[0]["body"]["cardflow"]
    assert fields["flow"] == "alert_parent"
    assert "RuntimeError: child broke" in fields["summary"]


def test_nothing_is_sent_without_a_webhook(tmp_path: Any, slack: tuple[str, list[dict[str, Any]]]) -> None:
    _, received = slack
    settings = load_settings(data_dir=tmp_path / "data")
    state = failing_flow(settings=settings, return_state=True)
    assert state.is_failed()
    outcome = post_alert(Alert("flow_failure", "t", "s"), settings)
    assert not outcome.sent
    assert received == []


def test_quality_warning_posts_summary(alert_settings: Settings, slack: tuple[str, list[dict[str, Any]]]) -> None:
    _, received = slack
    outcome = notify("quality_warning", "fct_orders: 3 rows with quantity <= 0", alert_settings)
    assert outcome.sent
    assert [r["body"]["cardflow"]["kind"] for r in received] == ["quality_warning"]
    assert received[0]["body"]["cardflow"]["summary"] == "fct_orders: 3 rows with quantity <= 0"


def test_webhook_errors_are_reported_not_raised(tmp_path: Any, slack: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = slack
    answering_500 = load_settings(data_dir=tmp_path / "data", slack_webhook_url=url + "/fail")
    outcome = post_alert(Alert("flow_failure", "title", "summary", RunContext(flow="f")), answering_500, timeout=5)
    assert not outcome.sent and outcome.detail == "webhook answered HTTP 500"
    assert len(received) == 1
    unreachable = load_settings(data_dir=tmp_path / "data", slack_webhook_url="http://127.0.0.1:9/hook")
    outcome = post_alert(Alert("flow_failure", "title", "summary"), unreachable, timeout=2)
    assert not outcome.sent and outcome.detail.startswith("post failed")


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("amqp://guest:guest@mq:5672/%2F down", [], "amqp://***@mq:5672/%2F down"),
        ("postgresql://u@h/db", [], "postgresql://***@h/db"),
        ("token abcd1234 leaked", ["abcd1234"], "token *** leaked"),
        ("short ab stays", ["ab"], "short ab stays"),
        ("https://hooks.slack.com/services/T/B/X", [], "https://hooks.slack.com/services/T/B/X"),
    ],
)
def test_scrub(text: str, secrets: list[str], expected: str) -> None:
    assert scrub(text, secrets) == expected


def test_quality_warning_inside_a_run_names_the_run(
    alert_settings: Settings, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    from prefect import task

    @task
    def gate() -> None:
        notify("quality_warning", "RAW.EVENTS: newest event is 7.5 h old (warn at 6 h)", alert_settings)

    @flow(name="quality_probe")
    def probe() -> str:
        gate()
        from prefect.runtime import flow_run

        return flow_run.id

    run_id = probe()
    _, received = slack
    (alert,) = received
    fields = alert["body"]["cardflow"]
    assert fields["kind"] == "quality_warning"
    assert fields["flow"] == "quality_probe"
    assert run_id in fields["run"]
    assert fields["state"] == "Running"


# --- quality alerts (from the quality branch): notify() keeps its contract ---------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook() -> tuple[str, type[_Hook]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret-token", handler
    server.shutdown()


def test_posts_summary_when_configured(webhook, caplog: pytest.LogCaptureFixture, tmp_path) -> None:
    url, handler = webhook
    settings = load_settings(data_dir=tmp_path, slack_webhook_url=url)
    with caplog.at_level(logging.DEBUG):
        outcome = notify("quality_warning", "volume -30%", settings)
    assert outcome.sent
    assert "volume -30%" in handler.received[0]["text"]
    assert "secret-token" not in caplog.text


def test_does_nothing_without_webhook(tmp_path) -> None:
    outcome = notify("quality_failure", "silver gate failed", load_settings(data_dir=tmp_path))
    assert not outcome.sent
    assert "SLACK_WEBHOOK_URL" in outcome.detail


def test_failed_post_is_reported_not_raised(webhook, caplog: pytest.LogCaptureFixture, tmp_path) -> None:
    url, handler = webhook
    handler.status = 500
    with caplog.at_level(logging.DEBUG):
        outcome = notify(
            "quality_failure", "gold gate failed", load_settings(data_dir=tmp_path, slack_webhook_url=url)
        )
    assert not outcome.sent and "500" in outcome.detail
    assert "secret-token" not in caplog.text


def test_held_summary_says_what_was_held_and_what_to_do() -> None:
    from cardflow.quality.holdback import Hold
    from tasks.alerts import held_summary

    holds = [Hold(e, "gate_silver:stg_order_created:q", "silver") for e in ("e1", "e2")]
    text = held_summary("silver", holds)
    assert "2 event(s) held back" in text and "gate_silver:stg_order_created:q: 2" in text
    assert "cardflow quarantine list" in text and "next run publishes" in text
    assert held_summary("silver", []) == ""


# --- receipts for the backstop automations ---------------------------------------------------------
def test_runs_whose_failure_was_reported_are_marked_alerted(
    alert_settings: Settings, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posted, or left to the parent (subflow): marked; not posted (no webhook): not marked, so the
    server-side backstop notifies it."""
    import tasks.alerts as alerts

    marked: list[tuple[str, str]] = []
    monkeypatch.setattr(alerts, "mark_alerted", lambda run, how: marked.append((run.name, how)))
    assert failing_flow(settings=alert_settings, return_state=True).is_failed()
    assert [how for _, how in marked] == ["posted to Slack by the flow's hook"]
    marked.clear()
    assert failing_parent(settings=alert_settings, return_state=True).is_failed()
    assert sorted(how for _, how in marked) == ["posted to Slack by the flow's hook", "reported by its parent run"]
    marked.clear()
    assert failing_flow(settings=load_settings(data_dir=tmp_path / "quiet"), return_state=True).is_failed()
    assert marked == []


def test_quality_events_say_whether_the_run_posted_them(
    tmp_path: Any, slack: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefect.events

    emitted: list[dict[str, Any]] = []
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: emitted.append(kw))
    notify("quality_warning", "volume +60%", load_settings(data_dir=tmp_path, slack_webhook_url=slack[0]))
    notify("quality_warning", "volume +60%", load_settings(data_dir=tmp_path))
    assert [e["resource"]["cardflow.posted"] for e in emitted] == ["true", "false"]
    assert {e["event"] for e in emitted} == {"cardflow.quality_warning"}


def test_report_window_changes_only_the_proactive_backstop() -> None:
    from prefect.events.schemas.automations import AutomationCore

    from deployments.automations import read_definitions, with_block_id, with_report_window

    definitions = {d["name"]: d for d in read_definitions()}
    unreported = with_report_window(definitions["cardflow-flow-run-unreported"], 45)
    assert unreported["trigger"]["within"] == 45
    assert definitions["cardflow-flow-run-unreported"]["trigger"]["within"] == 180  # the YAML's own
    assert with_report_window(definitions["cardflow-quality-unposted"], 45) == definitions["cardflow-quality-unposted"]
    block = "00000000-0000-0000-0000-000000000001"
    assert AutomationCore.model_validate(with_block_id(unreported, block)).trigger.within.total_seconds() == 45

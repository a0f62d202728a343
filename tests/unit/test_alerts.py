"""The alert hook posts to the Slack webhook when configured, does nothing otherwise, never leaks it."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cardflow.settings import load_settings
from tasks.alerts import notify


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

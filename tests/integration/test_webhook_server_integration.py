"""``cardflow webhook`` really serves over HTTP (uvicorn): health, a signed batch lands, bad auth 401."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.sources.mq.outgoing import outgoing_for_event
from deployments.webhook_app import sign

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cardflow_webhook_serves_and_lands(tmp_path: Path) -> None:
    port, secret = _free_port(), "server-secret"
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "CARDFLOW_DATA_DIR": str(tmp_path / "data"),
        "CARDFLOW_WEBHOOK_SECRET": secret,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardflow", "webhook", "--port", str(port), "--no-events"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("webhook did not become healthy: " + proc.stdout.read1().decode()[-2000:])
        items = []
        for event in EventGenerator(GeneratorConfig(events=25, seed=2)):
            o = outgoing_for_event(event)
            items.append(
                {
                    "data": base64.b64encode(o.body).decode(),
                    "basicProperties": {"contentType": o.content_type, "headers": o.headers},
                }
            )
        body = json.dumps({"messages": items}).encode()
        ok = httpx.post(
            f"{base}/mq", content=body, headers={"x-cardflow-signature": sign(secret, body)}, timeout=60
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["landed"] == 25
        assert (tmp_path / "data" / "lake" / ok.json()["manifest_key"]).is_file()
        denied = httpx.post(f"{base}/mq", content=body, headers={"x-cardflow-signature": sign("nope", body)})
        assert denied.status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)

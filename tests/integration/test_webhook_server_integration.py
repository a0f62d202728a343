"""``cardflow webhook`` really serves over HTTP (uvicorn): health, a signed batch lands, bad auth 401."""

from __future__ import annotations

import base64
import gzip
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


def _serve(tmp_path: Path, secret: str, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "CARDFLOW_DATA_DIR": str(tmp_path / "data"),
        "CARDFLOW_WEBHOOK_SECRET": secret,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardflow", "webhook", "--port", str(port), "--no-events", *extra],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("webhook did not become healthy: " + proc.stdout.read1().decode()[-2000:])


def _wait_for_workers(base: str, workers: int) -> None:
    """Until ``workers`` distinct worker processes have answered /health (fresh connections)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while len(seen) < workers and time.monotonic() < deadline:
        seen.add(httpx.get(f"{base}/health", timeout=5).json()["worker_pid"])
        time.sleep(0.05)
    assert len(seen) == workers, f"only workers {sorted(seen)} answered /health"


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _items(events: int, seed: int) -> list[dict]:
    items = []
    for event in EventGenerator(GeneratorConfig(events=events, seed=seed)):
        o = outgoing_for_event(event)
        items.append(
            {
                "data": base64.b64encode(o.body).decode(),
                "basicProperties": {"contentType": o.content_type, "headers": o.headers},
            }
        )
    return items


def test_oversize_body_gets_a_413_that_urllib_can_read(tmp_path: Path) -> None:
    """A client that sends its whole body before reading (urllib) reads the 413 and its reason."""
    import urllib.error
    import urllib.request

    secret = "server-secret"
    proc, base = _serve(tmp_path, secret)
    try:
        body = b'{"messages": [' + b" " * (11 * 1024 * 1024) + b"]}"
        request = urllib.request.Request(
            f"{base}/mq", data=body, headers={"Authorization": f"Bearer {secret}"}, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=60)
        assert caught.value.code == 413
        assert "exceeds the limit of 10485760 bytes" in json.loads(caught.value.read())["error"]
        # the receiver is still healthy and lands the next (small) batch
        small = json.dumps({"messages": _items(3, seed=5)}).encode()
        ok = urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/mq", data=small, headers={"Authorization": f"Bearer {secret}"}, method="POST"
            ),
            timeout=60,
        )
        assert json.loads(ok.read())["landed"] == 3
    finally:
        _stop(proc)
    assert not list((tmp_path / "data" / "lake").rglob("_quarantine/**/*.json.gz"))


def test_two_workers_land_one_stream_once(tmp_path: Path) -> None:
    """A stream of batches, each delivered twice (at-least-once sender) to a 2-worker receiver:
    both workers land batches, every event is in exactly one object, no object is duplicated."""
    import hashlib
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from cardflow.bronze.layout import is_part_key

    secret = "server-secret"
    proc, base = _serve(tmp_path, secret, "--workers", "2")
    _wait_for_workers(base, 2)  # the first healthy answer may come while the other still starts
    items = _items(1200, seed=9)
    batches = [items[i : i + 40] for i in range(0, len(items), 40)]

    def post(batch: list[dict]) -> dict:
        body = json.dumps({"messages": batch}).encode()
        with httpx.Client() as client:  # a fresh connection per post, as from many senders
            response = client.post(
                f"{base}/mq", content=body, headers={"x-cardflow-signature": sign(secret, body)}, timeout=60
            )
        assert response.status_code == 200, response.text
        return response.json()

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, batches + batches[::-1]))
    finally:
        _stop(proc)
    assert len({a["worker_pid"] for a in answers}) == 2  # both workers served the stream
    assert sum(a["landed"] for a in answers) == 2 * len(items)
    lake = tmp_path / "data" / "lake"
    parts = {
        p.relative_to(lake).as_posix(): p.read_bytes()
        for p in lake.rglob("*.json.gz")
        if is_part_key(p.relative_to(lake).as_posix())
    }
    ids = Counter(
        json.loads(line)["event_id"] for data in parts.values() for line in gzip.decompress(data).splitlines()
    )
    assert len(ids) == len(items) and set(ids.values()) == {1}
    assert len({hashlib.sha256(d).hexdigest() for d in parts.values()}) == len(parts)
    assert len({a["manifest_key"] for a in answers}) == len(batches)

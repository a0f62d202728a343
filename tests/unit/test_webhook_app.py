"""The webhook receiver: both body shapes, auth, size/shape errors, idempotent re-posts."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cardflow.bronze.layout import is_part_key
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ConfigurationError, StorageError
from cardflow.settings import Settings, load_settings
from cardflow.sources.mq.outgoing import outgoing_for_event
from deployments.webhook_app import create_app, sign

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", webhook_secret=SECRET, webhook_max_body_bytes=200_000)


def _wire(n: int = 30, *, amazon_bytes: bool = False) -> list[dict]:
    items = []
    for event in EventGenerator(GeneratorConfig(events=n, seed=11)):
        o = outgoing_for_event(event)
        headers = dict(o.headers) | {"published_at": "2026-11-20T12:00:00+00:00"}
        if amazon_bytes:
            headers = {k: {"bytes": list(str(v).encode())} for k, v in headers.items()}
        items.append(
            {
                "basicProperties": {
                    "contentType": o.content_type,
                    "headers": headers,
                    "timestamp": "Nov 20, 2026, 12:00:00 PM",
                },
                "redelivered": False,
                "data": base64.b64encode(o.body).decode(),
            }
        )
    return items


def _amazon_event(items: list[dict]) -> dict:
    half = len(items) // 2
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": "arn:aws:mq:us-east-1:111122223333:broker:b:b-1",
        "rmqMessagesByQueue": {"cardflow.events::/": items[:half], "cardflow.other::/": items[half:]},
    }


def _post(client: TestClient, document: object, *, secret: str = SECRET, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(document).encode()
    return client.post(
        "/mq",
        content=body,
        headers={"x-cardflow-signature": sign(secret, body), "content-type": "application/json"},
    )


def _lake(settings: Settings) -> dict[str, bytes]:
    root = settings.lake_dir
    return (
        {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else {}
    )


def test_amazon_mq_event_lands_through_the_flow(settings: Settings) -> None:
    """Shape (a) with {"bytes": [...]} headers, one Prefect flow run per request."""
    client = TestClient(create_app(settings, run_as_flow=True))
    response = _post(client, _amazon_event(_wire(30, amazon_bytes=True)))
    assert response.status_code == 200, response.text
    assert response.json()["landed"] == 30
    assert response.json()["quarantined"] == 0
    assert sum(1 for k in _lake(settings) if is_part_key(k)) == response.json()["objects"]


def test_messages_shape_posted_twice_lands_once(settings: Settings) -> None:
    """Shape (b); the retry of the same batch rewrites the same keys with the same bytes."""
    client = TestClient(create_app(settings, run_as_flow=False))
    document = {"messages": _wire(40)}
    first = _post(client, document)
    assert first.status_code == 200, first.text
    before = _lake(settings)
    second = _post(client, document)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert _lake(settings) == before
    records = [line for k, v in before.items() if is_part_key(k) for line in gzip.decompress(v).splitlines()]
    assert len(records) == 40


def test_bearer_and_header_secret_are_accepted(settings: Settings) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    body = json.dumps({"messages": _wire(3)})
    assert client.post("/mq", content=body, headers={"authorization": f"Bearer {SECRET}"}).status_code == 200
    assert client.post("/", content=body, headers={"x-cardflow-secret": SECRET}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-cardflow-signature": "sha256=" + "0" * 64},
        {"authorization": "Bearer wrong"},
        {"x-cardflow-secret": "no"},
    ],
)
def test_bad_credentials_are_401_and_land_nothing(settings: Settings, headers: dict) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    response = client.post("/mq", content=json.dumps({"messages": _wire(3)}), headers=headers)
    assert response.status_code == 401
    assert SECRET not in response.text
    assert response.json()["error"]
    assert not _lake(settings)


def test_signature_of_another_body_is_rejected(settings: Settings) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    body = json.dumps({"messages": _wire(3)}).encode()
    response = client.post("/mq", content=body, headers={"x-cardflow-signature": sign(SECRET, body + b" ")})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "must be a JSON object"),
        (b'{"foo": 1}', 422, "expected"),
        (b'{"messages": {"a": 1}}', 422, "must be a list"),
        (b'{"messages": [1]}', 422, "message 0"),
        (b'{"rmqMessagesByQueue": {"q::/": "x"}}', 422, "must be a list"),
    ],
)
def test_malformed_bodies_get_a_4xx_that_says_why(
    settings: Settings, raw: bytes, status: int, fragment: str
) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    response = _post(client, None, raw=raw)
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_oversized_body_is_413(settings: Settings) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    document = {"messages": _wire(30) * 40}
    response = _post(client, document)
    assert response.status_code == 413
    assert "exceeds the limit of 200000 bytes" in response.json()["error"]
    assert not _lake(settings)


def test_bad_messages_inside_a_good_request_are_quarantined(settings: Settings) -> None:
    client = TestClient(create_app(settings, run_as_flow=False))
    items = [
        *_wire(5),
        {"data": "%%%", "basicProperties": {}},
        {"data": base64.b64encode(b"plain").decode(), "basicProperties": {"contentType": "text/plain"}},
    ]
    response = _post(client, {"messages": items})
    assert response.status_code == 200
    assert response.json()["reasons"] == {"bad_base64": 1, "unsupported_content_type": 1}


def test_storage_failure_is_503_so_the_sender_retries(settings: Settings) -> None:
    def failing(_messages: list[dict]) -> dict:
        raise StorageError("bronze/x", "bucket unreachable")

    client = TestClient(create_app(settings, lander=failing))
    response = _post(client, {"messages": _wire(2)})
    assert response.status_code == 503
    assert "retry" in response.json()["error"]


def test_health_and_secret_required(tmp_path: Path, settings: Settings) -> None:
    assert TestClient(create_app(settings, run_as_flow=False)).get("/health").json()["status"] == "ok"
    with pytest.raises(ConfigurationError, match="CARDFLOW_WEBHOOK_SECRET"):
        create_app(load_settings(data_dir=tmp_path / "d"))

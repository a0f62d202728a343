"""The webhook receiver: lands batches itself, then emits ``cardflow.mq.batch.landed``; both body
shapes, auth, size/shape errors, idempotent re-posts."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from starlette.testclient import TestClient

from cardflow.bronze.layout import is_part_key
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ConfigurationError, StorageError
from cardflow.settings import Settings, load_settings
from cardflow.sources.mq.messages import RawMessage, canonicalize
from cardflow.sources.mq.outgoing import outgoing_for_event
from deployments.webhook_app import create_app, sign
from tasks.realtime import BATCH_LANDED_EVENT

SECRET = "s3cr3t-for-tests"
batch_landed_payload_keys = (
    "batch_id", "manifest_key", "ingested_at", "messages", "landed", "duplicates", "quarantined",
    "objects", "quarantine_objects", "reasons",
)  # fmt: skip


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


@pytest.fixture
def events_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsWorker]:
    """Prefect's events worker with a client that records events instead of sending them."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    yield worker
    worker.drain()


def _bronze_event_ids(settings: Settings) -> list[str]:
    return [
        json.loads(line)["event_id"]
        for key, data in _lake(settings).items()
        if is_part_key(key)
        for line in gzip.decompress(data).splitlines()
    ]


def test_default_mode_lands_a_10000_message_amazon_mq_batch_and_emits_ids_only(
    tmp_path: Path, events_worker: EventsWorker
) -> None:
    """The default mode lands the batch itself (no flow run, so no 512 KiB parameter limit: this
    batch is ~8 MB), answers 2xx after the manifest is written, then emits one
    ``cardflow.mq.batch.landed`` event with ids and counts and not a byte of any message."""
    settings = load_settings(data_dir=tmp_path / "data", webhook_secret=SECRET)  # default 10 MiB limit
    items = _wire(10_000, amazon_bytes=True)
    client = TestClient(create_app(settings))
    response = _post(client, _amazon_event(items))
    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    assert answer["messages"] == 10_000
    expected = {
        c.envelope.event_id for c in (canonicalize(RawMessage.from_wire(m)) for m in items) if c.envelope
    }
    assert answer["landed"] == len(expected)
    assert answer["landed"] + answer["duplicates"] + answer["quarantined"] == 10_000
    bronze_ids = _bronze_event_ids(settings)
    assert len(bronze_ids) == len(set(bronze_ids)) and set(bronze_ids) == {str(i) for i in expected}
    manifest = json.loads((settings.lake_dir / answer["manifest_key"]).read_bytes())
    assert manifest["origin"] == "realtime" and manifest["messages"] == 10_000
    assert sorted(o["key"] for o in manifest["objects"]) == sorted(k for k in _lake(settings) if is_part_key(k))

    events_worker.drain()
    client_events = events_worker._client
    assert isinstance(client_events, AssertingEventsClient)
    (event,) = [e for e in client_events.events if e.event == BATCH_LANDED_EVENT]
    assert answer["event_id"] == str(event.id)
    assert event.resource.id == f"cardflow.mq.batch.{answer['batch_id']}"
    assert event.payload["batch_id"] == answer["batch_id"]
    assert event.payload["manifest_key"] == answer["manifest_key"]
    assert event.payload["landed"] == answer["landed"]
    text = event.model_dump_json()
    assert len(text) < 2_000
    assert set(event.payload) == set(batch_landed_payload_keys)
    assert not any(m["data"][:40] in text for m in items)  # no message body, base64 or decoded,
    assert not any(str(event_id) in text for event_id in expected)  # not even an event id
    assert "basicProperties" not in text and '"data"' not in text


def test_a_lost_event_does_not_fail_a_landed_batch(settings: Settings) -> None:
    """The batch is durable before the event is sent: a notifier failure still answers 2xx."""

    def broken(_landing: object) -> str:
        raise ConnectionError("events API unreachable")

    client = TestClient(create_app(settings, notifier=broken))
    response = _post(client, _amazon_event(_wire(30, amazon_bytes=True)))
    assert response.status_code == 200, response.text
    assert response.json()["landed"] == 30 and response.json()["event_id"] is None
    assert sum(1 for k in _lake(settings) if is_part_key(k)) == response.json()["objects"]


def test_no_events_mode_lands_without_emitting(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """``cardflow webhook --no-events``: the same landing, and no call into Prefect at all."""
    import deployments.webhook_app as webhook_app

    emitted: list[object] = []
    monkeypatch.setattr(webhook_app, "emit_batch_landed", emitted.append)
    response = _post(TestClient(create_app(settings, emit_events=False)), {"messages": _wire(5)})
    assert response.status_code == 200 and response.json()["event_id"] is None
    assert response.json()["landed"] == 5 and not emitted
    response = _post(TestClient(create_app(settings)), {"messages": _wire(5)})
    assert [landing.manifest_key for landing in emitted] == [response.json()["manifest_key"]]


def test_messages_shape_posted_twice_lands_once(settings: Settings) -> None:
    """Shape (b); the retry of the same batch rewrites the same keys with the same bytes."""
    client = TestClient(create_app(settings, emit_events=False))
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
    client = TestClient(create_app(settings, emit_events=False))
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
    client = TestClient(create_app(settings, emit_events=False))
    response = client.post("/mq", content=json.dumps({"messages": _wire(3)}), headers=headers)
    assert response.status_code == 401
    assert SECRET not in response.text
    assert response.json()["error"]
    assert not _lake(settings)


def test_signature_of_another_body_is_rejected(settings: Settings) -> None:
    client = TestClient(create_app(settings, emit_events=False))
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
    client = TestClient(create_app(settings, emit_events=False))
    response = _post(client, None, raw=raw)
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_oversized_body_is_413(settings: Settings) -> None:
    client = TestClient(create_app(settings, emit_events=False))
    document = {"messages": _wire(30) * 40}
    response = _post(client, document)
    assert response.status_code == 413
    assert "exceeds the limit of 200000 bytes" in response.json()["error"]
    assert not _lake(settings)


def test_bad_messages_inside_a_good_request_are_quarantined(settings: Settings) -> None:
    client = TestClient(create_app(settings, emit_events=False))
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
    assert TestClient(create_app(settings, emit_events=False)).get("/health").json()["status"] == "ok"
    with pytest.raises(ConfigurationError, match="CARDFLOW_WEBHOOK_SECRET"):
        create_app(load_settings(data_dir=tmp_path / "d"))

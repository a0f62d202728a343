"""The RabbitMQ bridge against the real local RabbitMQ: crashes, poison messages, clean shutdown.

Every test uses its own queue (``cardflow_test_<random>`` with its .dlx/.dlq) and deletes it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import is_part_key
from cardflow.bronze.store import LocalBronzeStore
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import Settings, load_settings
from cardflow.sources.mq.connection import connection_parameters
from cardflow.sources.mq.consumer import BatchConsumer, ConsumerConfig
from cardflow.sources.mq.landing import land_messages
from cardflow.sources.mq.outgoing import outgoing_for_event
from cardflow.sources.mq.proto_bodies import protobuf_content_type
from cardflow.sources.mq.publisher import ConfirmingPublisher, Outgoing
from cardflow.sources.mq.topology import Topology, declare_topology

pytestmark = pytest.mark.integration

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> Iterator[Topology]:
    """A fresh queue with DLX/DLQ; the delivery limit comes from ``@pytest.mark.parametrize`` or is 2."""
    limit = getattr(request, "param", 2)
    topo = Topology(f"cardflow_test_{uuid.uuid4().hex[:10]}", delivery_limit=limit)
    connection = pika.BlockingConnection(connection_parameters(URL))
    declare_topology(connection.channel(), topo)
    connection.close()
    yield topo
    connection = pika.BlockingConnection(connection_parameters(URL))
    channel = connection.channel()
    for name in (topo.queue, topo.dead_letter_queue):
        channel.queue_delete(name)
    channel.exchange_delete(topo.dead_letter_exchange)
    connection.close()


def _settings(tmp_path: Path, topo: Topology, **overrides) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        rabbitmq_url=URL,
        rabbitmq_queue=topo.queue,
        rabbitmq_delivery_limit=topo.delivery_limit,
        **overrides,
    )


def _publish(topo: Topology, messages: list[Outgoing]) -> None:
    report = ConfirmingPublisher(URL, topo.queue, window=500).publish(messages)
    assert report.confirmed == len(messages)


def _depth(queue: str) -> int:
    connection = pika.BlockingConnection(connection_parameters(URL))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def _bronze(lake: Path) -> tuple[list[dict], dict[str, str]]:
    """All records of all part objects, and sha256 per part key."""
    records, digests = [], {}
    for path in sorted(lake.rglob("*.json.gz")):
        key = path.relative_to(lake).as_posix()
        if not is_part_key(key):
            continue
        data = path.read_bytes()
        digests[key] = hashlib.sha256(data).hexdigest()
        records.extend(json.loads(line) for line in gzip.decompress(data).splitlines())
    return records, digests


def _quarantine(lake: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in lake.rglob("*.json.gz")
        if "/_quarantine/" in p.as_posix()
        for line in gzip.decompress(p.read_bytes()).splitlines()
    ]


def _consumer_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "cardflow", "consume", *extra]


def _env(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "PYTHONPATH": str(ROOT),
        "CARDFLOW_DATA_DIR": str(settings.data_dir),
        "RABBITMQ_URL": URL,
        "RABBITMQ_QUEUE": settings.rabbitmq_queue,
        "RABBITMQ_DELIVERY_LIMIT": str(settings.rabbitmq_delivery_limit),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def _mid_batch(lake: Path) -> bool:
    """True when a part object exists that no manifest lists yet: a batch is being written."""
    listed: set[str] = set()
    for manifest in lake.rglob("_manifests/**/*.json"):
        try:
            listed.update(o["key"] for o in json.loads(manifest.read_text())["objects"])
        except (ValueError, OSError):
            return True
    parts = {p.relative_to(lake).as_posix() for p in lake.rglob("part-*.json.gz") if "/_" not in p.as_posix()}
    return bool(parts - listed) and bool(listed)


@pytest.mark.parametrize("topology", [10], indirect=True)  # crashes count as deliveries
def test_sigkill_mid_batch_then_restart_lands_each_event_exactly_once(
    tmp_path: Path, topology: Topology
) -> None:
    """N distinct events plus re-published duplicates; the consumer is SIGKILLed while landing;
    after a restart Bronze holds every event_id (none lost) and no object twice (none doubled).
    Silver's event_id dedupe then gives exactly N (checked end to end after load + dbt)."""
    n = 3000
    events = list(EventGenerator(GeneratorConfig(events=n, seed=21)))
    messages = [outgoing_for_event(e) for e in events]
    duplicates = [outgoing_for_event(e) for e in events[::10]]  # at-least-once upstream: 300 resends
    _publish(topology, messages[:1500] + duplicates + messages[1500:])
    settings = _settings(tmp_path, topology)
    lake = settings.lake_dir
    batch_args = ("--batch-size", "200", "--prefetch", "400", "--batch-seconds", "0.3")

    first = subprocess.Popen(
        _consumer_cmd(*batch_args),
        env=_env(settings),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    killed_mid_batch = False
    while time.monotonic() < deadline and first.poll() is None:
        if lake.exists() and _mid_batch(lake):
            killed_mid_batch = True
            break
        time.sleep(0.002)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert first.returncode == -signal.SIGKILL, first.stdout.read().decode()[-2000:]
    assert killed_mid_batch, "never caught the consumer between a part write and its manifest"
    assert _depth(topology.queue) > 0  # the kill left unacked messages; the broker requeued them

    second = subprocess.run(
        _consumer_cmd(*batch_args, "--idle-exit", "3"),
        env=_env(settings),
        cwd=tmp_path,
        capture_output=True,
        timeout=180,
    )
    assert second.returncode == 0, second.stdout.decode()[-2000:] + second.stderr.decode()[-2000:]
    assert _depth(topology.queue) == 0
    assert _depth(topology.dead_letter_queue) == 0

    records, digests = _bronze(lake)
    assert {r["event_id"] for r in records} == {e["event_id"] for e in events}  # none lost
    assert len(set(digests.values())) == len(digests)  # no object written twice under two names
    assert not _quarantine(lake)
    # every record is the canonical Bronze record of its event (dedupe by event_id is lossless)
    by_id: dict[str, set[str]] = {}
    for r in records:
        by_id.setdefault(r["event_id"], set()).add(
            json.dumps({k: v for k, v in r.items() if k != "ingested_at"}, sort_keys=True)
        )
    assert all(len(v) == 1 for v in by_id.values())


def test_poison_messages_go_to_quarantine_or_dlq_and_good_ones_land(
    tmp_path: Path, topology: Topology
) -> None:
    """Contract-bad messages are quarantined with reasons; a message that breaks the landing code
    is nacked until the broker's delivery limit dead-letters it; the good ones behind both land."""
    events = list(EventGenerator(GeneratorConfig(events=60, seed=5)))
    good = [outgoing_for_event(e) for e in events[:50]]
    order = next(e for e in events if e["event_type"] == "OrderCreated")
    breaker = outgoing_for_event(events[55])
    bad_types = json.loads(outgoing_for_event(order).body)
    bad_types["payload"]["quantity"] = "many"
    bad_types["event_id"] = str(uuid.uuid4())
    no_id = json.loads(outgoing_for_event(order).body)
    del no_id["event_id"]
    unknown = json.loads(outgoing_for_event(order).body) | {
        "event_type": "CardGraded",
        "event_id": str(uuid.uuid4()),
    }
    poison = [
        Outgoing(b"this is not json {", "application/json"),
        Outgoing(json.dumps(bad_types).encode()),
        Outgoing(json.dumps(no_id).encode()),
        Outgoing(json.dumps(unknown).encode()),
        Outgoing(
            b"\x0a\xff\xff\xff",
            protobuf_content_type("OrderCreated"),
            {
                "event_id": str(uuid.uuid4()),
                "source": "orders",
                "event_type": "OrderCreated",
                "inserted_at": "2026-10-01T00:00:00+00:00",
            },
        ),
        Outgoing(b"<xml/>", "application/xml"),
    ]
    _publish(topology, good[:20] + poison[:3] + [breaker] + poison[3:] + good[20:])
    settings = _settings(tmp_path, topology)
    store = LocalBronzeStore(settings.lake_dir)
    breaker_id = events[55]["event_id"]

    def lander(batch):
        if any(breaker_id.encode() in m.body for m in batch):
            raise RuntimeError("this message breaks the landing code")
        return land_messages(batch, store, settings.s3_prefix)

    config = ConsumerConfig.from_settings(settings, batch_size=100, prefetch=200, batch_seconds=0.2)
    consumer = BatchConsumer(config, lander)
    runner = threading.Thread(target=consumer.run, kwargs={"idle_exit_seconds": 30})
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _depth(topology.dead_letter_queue) < 1:
        time.sleep(0.2)
    consumer.stop()
    runner.join(30)
    assert not runner.is_alive()

    records, _ = _bronze(settings.lake_dir)
    assert {r["event_id"] for r in records} == {e["event_id"] for e in events[:50]}
    reasons = sorted(e["reason"] for e in _quarantine(settings.lake_dir))
    assert set(reasons) == {
        "not_json",
        "bad_type",
        "null_event_id",
        "unknown_event_type",
        "bad_protobuf",
        "unsupported_content_type",
    }
    connection = pika.BlockingConnection(connection_parameters(URL))
    _method, props, body = connection.channel().basic_get(topology.dead_letter_queue, auto_ack=True)
    connection.close()
    assert body == breaker.body
    assert props.headers["x-first-death-reason"] == "delivery_limit"
    assert _depth(topology.queue) == 0
    assert consumer.stats.nacked >= topology.delivery_limit


def test_sigterm_lands_the_partial_batch_and_exits_cleanly(tmp_path: Path, topology: Topology) -> None:
    """SIGTERM while a partial batch waits for its timer: it is landed and acked, nothing is lost,
    nothing is acked twice (a double ack would close the channel and fail the exit code)."""
    events = list(EventGenerator(GeneratorConfig(events=700, seed=9)))
    _publish(topology, [outgoing_for_event(e) for e in events])
    settings = _settings(tmp_path, topology)
    proc = subprocess.Popen(
        _consumer_cmd("--batch-size", "500", "--prefetch", "1000", "--batch-seconds", "60"),
        env=_env(settings),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(settings.lake_dir.rglob("_manifests/**/*.json")):
        time.sleep(0.1)
    time.sleep(0.5)  # the other 200 are now buffered, waiting for the 60 s timer
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-3000:]
    stats = json.loads(out.decode().strip().splitlines()[-1])
    assert stats["messages"] == 700 and stats["landed"] == 700 and stats["nacked"] == 0
    records, _ = _bronze(settings.lake_dir)
    assert sorted(r["event_id"] for r in records) == sorted(e["event_id"] for e in events)
    assert _depth(topology.queue) == 0


def test_generate_to_rabbitmq_publishes_with_confirms(tmp_path: Path, topology: Topology) -> None:
    settings = _settings(tmp_path, topology)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cardflow",
            "generate",
            "--to",
            "rabbitmq",
            "--events",
            "500",
            "--format",
            "protobuf",
        ],
        env=_env(settings),
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    assert report["confirmed"] == 500
    assert _depth(topology.queue) == 500
    bronze = resolve_backends(settings, needs={"bronze"}).bronze
    consumer = BatchConsumer(ConsumerConfig.from_settings(settings), bronze=bronze)
    stats = consumer.run(idle_exit_seconds=1.5)
    assert stats.landed + stats.quarantined == 500
    assert stats.landed == 500  # protobuf bodies with headers land like JSON ones


def _close_connections_named(name: str) -> int:
    """Force-close our consumer's connection (only the one carrying ``name``) from the broker side."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if name in line]
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test: broker closed the connection"],
            capture_output=True,
            timeout=60,
            check=True,
        )
    return len(pids)


def test_consumer_reconnects_after_the_broker_drops_it(tmp_path: Path, topology: Topology) -> None:
    """The broker closes the connection mid-stream: unacked messages come back, the consumer
    reconnects by itself, and every event lands (idempotently) with nothing left in the queue."""
    events = list(EventGenerator(GeneratorConfig(events=1500, seed=13)))
    _publish(topology, [outgoing_for_event(e) for e in events])
    settings = _settings(tmp_path, topology)
    config = ConsumerConfig.from_settings(settings, batch_size=100, prefetch=200, batch_seconds=0.2)
    store = LocalBronzeStore(settings.lake_dir)
    closed = threading.Event()
    landed_batches: list[int] = []

    def lander(batch):
        # after the first batch, hold the landing until the broker has dropped the connection, so
        # the drop surely happens with deliveries in flight (rabbitmqctl is slow on a busy machine)
        if landed_batches:
            closed.wait(120)
        landed_batches.append(len(batch))
        return land_messages(batch, store, settings.s3_prefix)

    consumer = BatchConsumer(config, lander)
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(stats=consumer.run(idle_exit_seconds=3)))
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and consumer.stats.messages == 0:
        time.sleep(0.05)
    try:
        assert _close_connections_named(f"cardflow-consume {topology.queue}") == 1
    finally:
        closed.set()
    runner.join(120)
    assert not runner.is_alive()
    assert result["stats"].reconnects >= 1
    records, _ = _bronze(settings.lake_dir)
    assert {r["event_id"] for r in records} == {e["event_id"] for e in events}
    assert _depth(topology.queue) == 0

"""Real-time landing: drain-only pika consumer vs ``cardflow consume`` (local store, moto S3).

Every case runs on the same broker with its own fresh quorum queue (same topology as the bridge),
pre-loaded with ``min(ctx.events, 200_000)`` generated messages (``--events``), so rates compare:

* ``drain``: a pika consumer that does no work (prefetch 1000, ``basic_ack(multiple=True)`` every
  250 messages) -- the ceiling of consuming in Python on this broker.
* ``consume-local`` / ``consume-s3``: :class:`cardflow.sources.mq.consumer.BatchConsumer` at the default batch
  settings landing to the local store / to a moto S3 server (its own process).

Columns: ``msgs_per_s`` is the consume phase only (publishing the backlog is excluded), ``pct_drain``
relates it to the drain case of the same run, ``objects_per_10k`` counts Bronze part objects per
10,000 messages (target: at most one per partition per batch), ``p50_ms``/``p95_ms`` are publish ->
durable landing (acked after write) latencies measured in a second phase where a paced publisher
sends ``LATENCY_RATE`` messages/s while the consumer runs (target p95 <= 2 s).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, Case

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
MAX_MESSAGES = 200_000
LATENCY_RATE = 1_000
LATENCY_SECONDS = 15


def _messages(ctx: BenchContext) -> int:
    return min(ctx.events, MAX_MESSAGES)


def _outgoing(n: int, seed: int) -> list[Any]:
    from cardflow.dev.generator import EventGenerator, GeneratorConfig
    from cardflow.sources.mq.outgoing import outgoing_for_event

    return [outgoing_for_event(e) for e in EventGenerator(GeneratorConfig(events=n, seed=seed))]


def _fresh_queue(prefix: str) -> Any:
    import pika

    from cardflow.sources.mq.connection import connection_parameters
    from cardflow.sources.mq.topology import Topology, declare_topology

    topology = Topology(f"bench_{prefix}_{uuid.uuid4().hex[:8]}")
    connection = pika.BlockingConnection(connection_parameters(URL))
    declare_topology(connection.channel(), topology)
    connection.close()
    return topology


def _delete_queue(topology: Any) -> None:
    import pika

    from cardflow.sources.mq.connection import connection_parameters

    connection = pika.BlockingConnection(connection_parameters(URL))
    channel = connection.channel()
    for name in (topology.queue, topology.dead_letter_queue):
        channel.queue_delete(name)
    channel.exchange_delete(topology.dead_letter_exchange)
    connection.close()


def _publish(topology: Any, messages: list[Any]) -> None:
    from cardflow.sources.mq.publisher import ConfirmingPublisher

    ConfirmingPublisher(URL, topology.queue, window=5000).publish(messages)


def _results_file(ctx: BenchContext) -> Path:
    return ctx.workdir / "realtime_drain.json"


# --- drain -------------------------------------------------------------------------------------
def _drain(ctx: BenchContext) -> dict[str, Any]:
    import pika

    from cardflow.sources.mq.connection import connection_parameters

    n = _messages(ctx)
    topology = _fresh_queue("drain")
    try:
        _publish(topology, _outgoing(n, ctx.seed))
        connection = pika.BlockingConnection(connection_parameters(URL))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        state = {"n": 0}

        def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
            state["n"] += 1
            if state["n"] % 250 == 0 or state["n"] == n:
                ch.basic_ack(method.delivery_tag, multiple=True)

        channel.basic_consume(topology.queue, on_message)
        began = time.perf_counter()
        while state["n"] < n:
            connection.process_data_events(time_limit=0.1)
        seconds = time.perf_counter() - began
        connection.close()
    finally:
        _delete_queue(topology)
    rate = n / seconds
    _results_file(ctx).parent.mkdir(parents=True, exist_ok=True)
    _results_file(ctx).write_text(json.dumps({"drain_msgs_per_s": rate}))
    return {"events": n, "msgs_per_s": round(rate)}


# --- cardflow consume --------------------------------------------------------------------------
def _start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _consume_case(ctx: BenchContext, *, s3: bool, workers: int = 0) -> dict[str, Any]:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.bronze.layout import is_part_key
    from cardflow.settings import load_settings
    from cardflow.sources.mq.consumer import BatchConsumer, ConsumerConfig
    from cardflow.sources.mq.deliveries import delivery_headers
    from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER

    n = _messages(ctx)
    moto = None
    overrides: dict[str, Any] = {"data_dir": ctx.workdir / f"rt-{uuid.uuid4().hex[:6]}", "rabbitmq_url": URL}
    if workers:
        overrides["rabbitmq_landing_workers"] = workers
    if s3:
        import boto3

        moto, endpoint = _start_moto()
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        overrides |= {
            "s3_bucket": bucket,
            "s3_endpoint_url": endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    settings = load_settings(**overrides)
    topology = _fresh_queue("consume")
    try:
        # phase 1: throughput on a backlog of n messages
        _publish(topology, _outgoing(n, ctx.seed))
        config = ConsumerConfig.from_settings(settings, queue=topology.queue)
        consumer = BatchConsumer(config, bronze=resolve_backends(settings, needs={"bronze"}).bronze)
        began = time.perf_counter()
        stats = consumer.run(max_messages=n)
        seconds = time.perf_counter() - began
        store = resolve_backends(settings, needs={"bronze"}).store()
        parts = [k for k in store.list_keys(settings.s3_prefix) if is_part_key(k)]
        batches = stats.batches

        # phase 2: latency under a paced publisher at the default batch settings
        latencies: list[float] = []

        def on_settled(batch: list[Any], _outcome: Any, _mono: float) -> None:
            now = time.time()
            for delivery in batch:
                published = delivery_headers(delivery).get(PUBLISHED_AT_HEADER)
                if published:
                    latencies.append(now - datetime.fromisoformat(published).timestamp())

        paced = _outgoing(LATENCY_RATE * LATENCY_SECONDS, ctx.seed + 1)
        consumer2 = BatchConsumer(
            config, bronze=resolve_backends(settings, needs={"bronze"}).bronze, on_settled=on_settled
        )
        publisher = threading.Thread(target=_paced_publish, args=(topology, paced), daemon=True)
        publisher.start()
        consumer2.run(max_messages=len(paced))
        publisher.join()
    finally:
        _delete_queue(topology)
        if moto is not None:
            moto.terminate()
            moto.wait(10)
    rate = n / seconds
    drain = (
        json.loads(_results_file(ctx).read_text())["drain_msgs_per_s"]
        if _results_file(ctx).exists()
        else None
    )
    latencies.sort()
    return {
        "events": n,
        "msgs_per_s": round(rate),
        "pct_drain": round(100 * rate / drain) if drain else None,
        "p50_ms": round(1000 * statistics.median(latencies)) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))]) if latencies else None,
        "objects_per_10k": round(len(parts) * 10_000 / n, 1),
        "batches": batches,
        "parts_per_batch": round(len(parts) / batches, 2) if batches else None,
        "landed": stats.landed,
    }


def _paced_publish(topology: Any, messages: list[Any]) -> None:
    """Publish at LATENCY_RATE messages/s in 100 ms slices (each slice confirmed before the next)."""
    from cardflow.sources.mq.publisher import ConfirmingPublisher

    publisher = ConfirmingPublisher(URL, topology.queue, window=5000)
    per_slice = max(1, LATENCY_RATE // 10)
    began = time.monotonic()
    for i in range(0, len(messages), per_slice):
        target = began + i / LATENCY_RATE
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(messages[i : i + per_slice])


def _consume_local(ctx: BenchContext) -> dict[str, Any]:
    return _consume_case(ctx, s3=False)


def _consume_s3(ctx: BenchContext) -> dict[str, Any]:
    return _consume_case(ctx, s3=True)


def _consume_local_one_worker(ctx: BenchContext) -> dict[str, Any]:
    return _consume_case(ctx, s3=False, workers=1)


def _consume_local_workers(ctx: BenchContext) -> dict[str, Any]:
    return _consume_case(ctx, s3=False, workers=2)


# --- competing consumers: N processes on the same queue --------------------------------------
def _competing_consumer(
    overrides: dict[str, Any], queue_name: str, go: Any, out: Any, idle_exit: float
) -> None:
    """One consumer process: build, wait for ``go``, consume until idle; report what it settled."""
    from cardflow.backends.chooser import resolve_backends
    from cardflow.settings import load_settings
    from cardflow.sources.mq.consumer import BatchConsumer, ConsumerConfig
    from cardflow.sources.mq.deliveries import delivery_headers
    from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER

    settings = load_settings(**overrides)
    config = ConsumerConfig.from_settings(settings, queue=queue_name)
    latencies: list[float] = []
    last = [0.0]

    def on_settled(batch: list[Any], _outcome: Any, _mono: float) -> None:
        now = time.time()
        last[0] = now
        for delivery in batch:
            published = delivery_headers(delivery).get(PUBLISHED_AT_HEADER)
            if published:
                latencies.append(now - datetime.fromisoformat(published).timestamp())

    consumer = BatchConsumer(
        config, bronze=resolve_backends(settings, needs={"bronze"}).bronze, on_settled=on_settled
    )
    out.put(("ready", None))
    go.wait()
    stats = consumer.run(idle_exit_seconds=idle_exit)
    out.put(("done", {"messages": stats.messages, "last": last[0], "latencies": latencies}))


class _Competing:
    """``processes`` consumer processes on one queue, released together."""

    def __init__(self, processes: int, overrides: dict[str, Any], queue_name: str, idle_exit: float) -> None:
        import multiprocessing as mp

        spawn = mp.get_context("spawn")
        self.go, self.out = spawn.Event(), spawn.Queue()
        self.procs = [
            spawn.Process(
                target=_competing_consumer, args=(overrides, queue_name, self.go, self.out, idle_exit)
            )
            for _ in range(processes)
        ]
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            assert self.out.get(timeout=120)[0] == "ready"
        self.began = time.time()
        self.go.set()

    def reports(self) -> list[dict[str, Any]]:
        reports = [self.out.get(timeout=900)[1] for _ in self.procs]
        for proc in self.procs:
            proc.join(30)
        return reports


def _consume_competing(ctx: BenchContext, processes: int = 2) -> dict[str, Any]:
    n = _messages(ctx)
    overrides: dict[str, Any] = {"data_dir": ctx.workdir / f"rt-{uuid.uuid4().hex[:6]}", "rabbitmq_url": URL}
    topology = _fresh_queue("compete")
    try:
        _publish(topology, _outgoing(n, ctx.seed))
        backlog = _Competing(processes, overrides, topology.queue, idle_exit=2.0)
        reports = backlog.reports()
        seconds = max(r["last"] for r in reports) - backlog.began
        settled = sum(r["messages"] for r in reports)

        paced = _outgoing(LATENCY_RATE * LATENCY_SECONDS, ctx.seed + 1)
        live = _Competing(processes, overrides, topology.queue, idle_exit=3.0)
        _paced_publish(topology, paced)
        latencies = sorted(x for r in live.reports() for x in r["latencies"])
    finally:
        _delete_queue(topology)
    rate = n / seconds
    drain = (
        json.loads(_results_file(ctx).read_text())["drain_msgs_per_s"]
        if _results_file(ctx).exists()
        else None
    )
    return {
        "events": n,
        "msgs_per_s": round(rate),
        "pct_drain": round(100 * rate / drain) if drain else None,
        "p50_ms": round(1000 * statistics.median(latencies)) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))]) if latencies else None,
        "per_process": [r["messages"] for r in reports],
        "settled": settled,
    }


def cases(ctx: BenchContext) -> list[Case]:
    return [
        Case("realtime", "drain-only pika (prefetch 1000, multiple ack)", _drain),
        Case("realtime", "cardflow consume -> local store", _consume_local),
        Case("realtime", "cardflow consume -> moto S3", _consume_s3),
        Case("realtime", "cardflow consume -> local, 1 worker proc", _consume_local_one_worker),
        Case("realtime", "cardflow consume -> local, 2 worker procs", _consume_local_workers),
        Case("realtime", "2 competing consume processes -> local", _consume_competing),
    ]

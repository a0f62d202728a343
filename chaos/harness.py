"""The chaos harness: N rounds of traffic on three channels, one SIGKILL per round, then a census.

Each round publishes fresh events (generated, all valid) through the three ways in:

* the **event store**: committed INSERTs with ``inserted_at`` left to ``now()``, as a service does;
* **RabbitMQ**: confirmed publishes to a fresh quorum queue, a share of them published twice
  (duplicates), consumed by ``cardflow consume``; a killed consumer's unacked messages are
  redelivered by the broker;
* the **webhook** (``cardflow webhook``): signed POSTs; one batch is POSTed twice (a redelivery),
  and a POST that fails because the server was killed is retried until it answers 2xx, as
  Amazon MQ's delivery does.

Then it runs the batch stages in order: backfill (``cardflow backfill --no-prefect``), load and
transform (:mod:`chaos.stages`). One process per round, picked at random among the consumer, the
webhook server, the backfill, the load and the transform, is SIGKILLed at a random moment of its
work and restarted (a batch stage is then run again to completion).

At the end, with no more kills, the queue is drained and every stage runs once more. Then the
census: every accepted event (an INSERT that committed, a publish the broker confirmed, a POST
answered 2xx) must appear exactly once in Bronze (part objects), RAW.EVENTS and, by its business
key, in Gold (``fct_orders.order_id``, ``fct_batch_performance.batch_id``, ``dim_card.sku``),
computed independently from the accepted events. The printout gives rounds, kills per stage,
accepted events, and lost/duplicated counts per layer.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pika
import psycopg2

from cardflow.bronze.layout import is_part_key
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.settings import Settings, load_settings
from cardflow.sources.eventstore import store as eventstore
from cardflow.sources.mq.connection import connection_parameters
from cardflow.sources.mq.outgoing import outgoing_for_event
from cardflow.sources.mq.publisher import ConfirmingPublisher
from cardflow.sources.mq.topology import Topology, declare_topology
from deployments.webhook_app import sign

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("consumer", "webhook", "backfill", "load", "transform")
RABBITMQ_URL = os.environ.get("CHAOS_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG = {
    "host": os.environ.get("CHAOS_POSTGRES_HOST", "127.0.0.1"),
    "port": int(os.environ.get("CHAOS_POSTGRES_PORT", "5432")),
    "user": os.environ.get("CHAOS_POSTGRES_USER", "postgres"),
}
SECRET = "chaos-webhook-secret"  # a throw-away secret of this run's private webhook, not a credential
#: how long into a stage the kill may land (seconds) until the stage's own duration is known; a batch
#: stage's later kills land within the duration of its last complete run, so they hit it while it works
KILL_WINDOW = {"backfill": 3.0, "load": 2.0, "transform": 40.0, "consumer": 2.0, "webhook": 1.0}


@dataclass(frozen=True)
class ChaosConfig:
    rounds: int = 50
    events_per_channel: int = 30
    seed: int = 16
    keep: bool = False


@dataclass
class LayerCount:
    lost: int = 0
    duplicated: int = 0


@dataclass
class ChaosReport:
    rounds: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    kills_missed: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates_sent: int = 0
    webhook_retries: int = 0
    layers: dict[str, LayerCount] = field(default_factory=dict)
    gold_keys: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return all(c.lost == 0 and c.duplicated == 0 for c in self.layers.values())

    def render(self) -> str:
        lines = [
            "chaos: exactly once from producer to Gold under kill -9",
            f"rounds: {self.rounds}",
            "kills per stage (SIGKILL while running; in brackets: the stage had already finished): "
            + ", ".join(f"{s} {self.kills[s]} [{self.kills_missed[s]}]" for s in STAGES),
            f"events accepted: {sum(self.accepted.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.accepted.items()))
            + f"); duplicate sends: {self.duplicates_sent}; webhook re-POSTs after a kill: {self.webhook_retries}",
            "layer   lost  duplicated",
        ]
        lines += [f"{name:<7} {c.lost:>4}  {c.duplicated:>10}" for name, c in self.layers.items()]
        lines.append("gold keys checked: " + ", ".join(f"{k} {v}" for k, v in self.gold_keys.items()))
        lines.append("RESULT: " + ("0 lost, 0 duplicated at every layer" if self.clean else "FAILED"))
        return "\n".join(lines)


class Service:
    """A long-running child (consumer or webhook) that can be SIGKILLed and restarted."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


class Harness:
    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.report = ChaosReport()
        self.work = Path(tempfile.mkdtemp(prefix="cardflow-chaos-"))
        self.db = f"cardflow_chaos_{uuid.uuid4().hex[:8]}"
        self.topology = Topology(f"cardflow_chaos_{uuid.uuid4().hex[:8]}", delivery_limit=1000)
        self.port = _free_port()
        self.accepted: dict[str, dict[str, Any]] = {}
        self.victims: list[str] = []
        self.durations: dict[str, float] = {}  # the last complete run of each batch stage (seconds)
        self.env = os.environ | {
            "PYTHONPATH": str(ROOT),
            "CARDFLOW_DATA_DIR": str(self.work / "data"),
            "POSTGRES_HOST": PG["host"],
            "POSTGRES_PORT": str(PG["port"]),
            "POSTGRES_USER": PG["user"],
            "POSTGRES_DB": self.db,
            "RABBITMQ_URL": RABBITMQ_URL,
            "RABBITMQ_QUEUE": self.topology.queue,
            "RABBITMQ_DELIVERY_LIMIT": str(self.topology.delivery_limit),
            "CARDFLOW_WEBHOOK_SECRET": SECRET,
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.settings: Settings = load_settings(
            data_dir=self.work / "data",
            postgres_host=PG["host"],
            postgres_port=PG["port"],
            postgres_user=PG["user"],
            postgres_db=self.db,
        )
        self.consumer = Service(
            "consumer",
            [sys.executable, "-m", "cardflow", "consume", "--batch-seconds", "0.5", "--batch-size", "50"],
            self.env,
            self.work / "consumer.log",
        )
        self.webhook = Service(
            "webhook",
            [sys.executable, "-m", "cardflow", "webhook", "--port", str(self.port), "--no-events"],
            self.env,
            self.work / "webhook.log",
        )

    # --- set-up / tear-down ------------------------------------------------------------------
    def setup(self) -> None:
        admin = psycopg2.connect(dbname="postgres", **PG)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db}"')
        admin.close()
        eventstore.bootstrap_event_store(self.settings)
        connection = pika.BlockingConnection(connection_parameters(RABBITMQ_URL))
        declare_topology(connection.channel(), self.topology)
        connection.close()
        self.consumer.start()
        self.webhook.start()
        self._wait_webhook()

    def teardown(self) -> None:
        self.consumer.stop()
        self.webhook.stop()
        if self.config.keep:
            print(f"kept: {self.work} and database {self.db}")
            return
        connection = pika.BlockingConnection(connection_parameters(RABBITMQ_URL))
        channel = connection.channel()
        for name in (self.topology.queue, self.topology.dead_letter_queue):
            channel.queue_delete(name)
        channel.exchange_delete(self.topology.dead_letter_exchange)
        connection.close()
        admin = psycopg2.connect(dbname="postgres", **PG)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.db,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db}"')
        admin.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def _wait_webhook(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"webhook server not healthy; see {self.webhook.log}")

    # --- traffic -----------------------------------------------------------------------------
    def _events(self, round_no: int, channel: int) -> list[dict[str, Any]]:
        config = GeneratorConfig(
            events=self.config.events_per_channel,
            seed=self.config.seed * 100_000 + round_no * 10 + channel,
            days=2,
            skus=4,  # few SKUs: most events are orders and batches, so every Gold table is checked
        )
        return list(EventGenerator(config))

    def _accept(self, channel: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.accepted[str(event["event_id"])] = event
        self.report.accepted[channel] += len(events)

    def send_event_store(self, events: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        rows = [dict(e, inserted_at=now) for e in events]  # a service's INSERT: inserted_at = now()
        with eventstore.connect(self.settings) as conn:
            eventstore.insert_events(conn, rows, self.settings)
        self._accept("event_store", rows)

    def send_rabbitmq(self, events: list[dict[str, Any]]) -> None:
        messages = [outgoing_for_event(e) for e in events]
        duplicates = self.rng.sample(messages, k=max(1, len(messages) // 5))
        report = ConfirmingPublisher(RABBITMQ_URL, self.topology.queue, window=200).publish(messages + duplicates)
        if report.confirmed != len(messages) + len(duplicates):
            raise RuntimeError(f"broker confirmed {report.confirmed} of {len(messages) + len(duplicates)}")
        self.report.duplicates_sent += len(duplicates)
        self._accept("rabbitmq", events)

    def send_webhook(self, events: list[dict[str, Any]]) -> None:
        batches = [events[i : i + 5] for i in range(0, len(events), 5)]
        batches.append(batches[0])  # a redelivered batch
        self.report.duplicates_sent += len(batches[0])
        for batch in batches:
            self._post(batch)
        self._accept("webhook", events)

    def _post(self, events: list[dict[str, Any]]) -> None:
        items = []
        for event in events:
            o = outgoing_for_event(event)
            items.append(
                {
                    "data": base64.b64encode(o.body).decode(),
                    "basicProperties": {"contentType": o.content_type, "headers": o.headers},
                }
            )
        body = json.dumps({"messages": items}).encode()
        headers = {"x-cardflow-signature": sign(SECRET, body)}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                response = httpx.post(f"http://127.0.0.1:{self.port}/mq", content=body, headers=headers, timeout=120)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            self.report.webhook_retries += 1
            time.sleep(0.5)  # the server is restarting: redeliver, as Amazon MQ does
        raise RuntimeError("webhook never accepted a batch within 600 s")

    # --- stages ------------------------------------------------------------------------------
    def run_stage(self, stage: str, *, kill: bool) -> None:
        argv = {
            "backfill": [sys.executable, "-m", "cardflow", "backfill", "--no-prefect", "--chunk-size", "20"],
            "load": [sys.executable, "-m", "chaos.stages", "load"],
            "transform": [sys.executable, "-m", "chaos.stages", "transform"],
        }[stage]
        log = self.work / f"{stage}.log"
        if kill:
            with open(log, "ab") as out:
                proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            window = self.durations.get(stage, KILL_WINDOW[stage])
            delay = self.rng.uniform(0.1 * window, 0.9 * window)
            try:
                proc.wait(timeout=delay)
                self.report.kills_missed[stage] += 1
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                self.report.kills[stage] += 1
        started = time.monotonic()
        with open(log, "ab") as out:
            done = subprocess.run(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, check=False)
        self.durations[stage] = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"{stage} failed after restart (exit {done.returncode}); see {log}")

    def kill_service(self, service: Service, during: threading.Thread) -> None:
        """SIGKILL ``service`` at a random moment while ``during`` sends traffic; restart it."""
        time.sleep(self.rng.uniform(0.0, KILL_WINDOW[service.name]))
        if service.kill():
            self.report.kills[service.name] += 1
        else:
            self.report.kills_missed[service.name] += 1
        service.start()
        if service is self.webhook:
            self._wait_webhook()
        during.join()

    def next_victim(self) -> str:
        """Every stage once per cycle of five rounds, in a random order (so each is killed)."""
        if not self.victims:
            self.victims = self.rng.sample(STAGES, k=len(STAGES))
        return self.victims.pop()

    def round(self, round_no: int) -> None:
        victim = self.next_victim()
        self.send_event_store(self._events(round_no, 0))
        mq_events, webhook_events = self._events(round_no, 1), self._events(round_no, 2)
        # the victim's channel goes first, so the kill lands while its traffic is in flight
        sends = [lambda: self.send_rabbitmq(mq_events), lambda: self.send_webhook(webhook_events)]
        if victim == "webhook":
            sends.reverse()
        traffic = threading.Thread(target=lambda: [send() for send in sends])
        traffic.start()
        if victim in ("consumer", "webhook"):
            self.kill_service(self.consumer if victim == "consumer" else self.webhook, traffic)
        traffic.join()
        for stage in ("backfill", "load", "transform"):
            self.run_stage(stage, kill=stage == victim)
        self.report.rounds += 1

    def drain(self) -> None:
        """No more kills: wait until the queue is empty and the consumer idle, then stop the services."""
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            connection = pika.BlockingConnection(connection_parameters(RABBITMQ_URL))
            try:
                depth = connection.channel().queue_declare(self.topology.queue, passive=True).method
                if depth.message_count == 0 and depth.consumer_count >= 1:
                    break
            finally:
                connection.close()
            time.sleep(1)
        time.sleep(3)  # the last batch: flushed after batch-seconds, acked after its durable write
        self.consumer.stop()  # SIGTERM: finishes the batch in hand, then exits
        self.webhook.stop()
        for stage in ("backfill", "load", "transform"):
            self.run_stage(stage, kill=False)

    # --- census ------------------------------------------------------------------------------
    def census(self) -> None:
        expected = Counter({event_id: 1 for event_id in self.accepted})
        self.report.layers["bronze"] = _compare(expected, self._bronze_counts())
        self.report.layers["RAW"] = _compare(expected, self._raw_counts())
        gold_expected, gold_seen = self._gold()
        self.report.layers["Gold"] = _compare(gold_expected, gold_seen)

    def _bronze_counts(self) -> Counter[str]:
        lake = self.settings.lake_dir
        counts: Counter[str] = Counter()
        for path in lake.rglob("*.json.gz"):
            key = path.relative_to(lake).as_posix()
            if is_part_key(key):
                for line in gzip.decompress(path.read_bytes()).splitlines():
                    counts[json.loads(line)["event_id"]] += 1
        return counts

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        from cardflow.warehouse.duckdb import connect_utc

        with connect_utc(self.settings.duckdb_path, read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def _raw_counts(self) -> Counter[str]:
        raw = self.settings.snowflake_raw_schema
        rows = self._query(f"SELECT event_id, count(*) FROM {raw}.events GROUP BY 1")
        return Counter({str(event_id): int(n) for event_id, n in rows})

    def _gold(self) -> tuple[Counter[str], Counter[str]]:
        """Business keys expected from the accepted events vs the rows Gold holds per key."""
        keys = {
            "OrderCreated": ("fct_orders", "order_id"),
            "ManufacturingBatch": ("fct_batch_performance", "batch_id"),
            "CardCatalogEntryInserted": ("dim_card", "sku"),
        }
        expected: Counter[str] = Counter()
        for event in self.accepted.values():
            table, column = keys[event["event_type"]]
            payload = event["payload"] if isinstance(event["payload"], dict) else json.loads(event["payload"])
            expected[f"{table}:{payload[column]}"] = 1
        seen: Counter[str] = Counter()
        gold = self.settings.snowflake_gold_schema
        for table, column in keys.values():
            for value, n in self._query(f"SELECT {column}, count(*) FROM {gold}.{table} GROUP BY 1"):
                seen[f"{table}:{value}"] += int(n)
            self.report.gold_keys[table] = sum(1 for k in expected if k.startswith(table + ":"))
        return expected, seen


def _compare(expected: Counter[str], seen: Counter[str]) -> LayerCount:
    lost = sum(1 for key in expected if seen.get(key, 0) == 0)
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    duplicated += sum(n for key, n in seen.items() if key not in expected)  # rows no accepted event explains
    return LayerCount(lost, duplicated)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(config: ChaosConfig) -> ChaosReport:
    harness = Harness(config)
    harness.setup()
    try:
        for round_no in range(config.rounds):
            harness.round(round_no)
            print(f"round {round_no + 1}/{config.rounds} done; kills so far {dict(harness.report.kills)}", flush=True)
        harness.drain()
        harness.census()
    finally:
        harness.teardown()
    return harness.report

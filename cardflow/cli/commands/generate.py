"""``cardflow generate``: write generated events into the event store (or RabbitMQ).

A dev tool that writes, so it creates the event store schema first when it is missing (the same
idempotent step as ``cardflow bootstrap --event-store``; nothing runs when the table and index
exist). The backfill, which reads, never does.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import datetime

from cardflow.contract import parse_timestamp
from cardflow.dev.generator import EventGenerator, GeneratorConfig, current_hour
from cardflow.settings import get_settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate realistic events into the event store (creating its database, table and index "
        "first if missing, like `cardflow bootstrap --event-store`) or into RabbitMQ",
    )
    p.add_argument("--events", type=int, default=200_000, help="number of events (default 200000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--days", type=int, default=30, help="days the events spread over")
    p.add_argument(
        "--end",
        type=parse_timestamp,
        default=None,
        help="exclusive end (ISO-8601); default: the current hour, so freshness checks see recent data",
    )
    p.add_argument("--anomalies", action="store_true", help="inject anomalies for quality demos")
    p.add_argument("--anomaly-rate", type=float, default=0.002, help="share per anomaly kind")
    p.add_argument("--to", choices=("postgres", "rabbitmq"), default="postgres", help="destination")
    p.add_argument("--queue", default=None, help="rabbitmq: queue name (default RABBITMQ_QUEUE)")
    p.add_argument("--format", choices=("json", "protobuf"), default="json", help="rabbitmq: body format")
    p.add_argument("--confirm-window", type=int, default=2000, help="rabbitmq: unconfirmed in flight")
    p.set_defaults(func=run, stages=True)


def config_from_args(args: argparse.Namespace) -> GeneratorConfig:
    end: datetime = args.end or current_hour()
    return GeneratorConfig(
        events=args.events,
        seed=args.seed,
        days=args.days,
        end=end,
        anomalies=args.anomalies,
        anomaly_rate=args.anomaly_rate,
    )


def run(args: argparse.Namespace) -> int:
    from cardflow.sources.eventstore import store as eventstore

    settings = get_settings()
    generator = EventGenerator(config_from_args(args))
    if args.to == "rabbitmq":
        return _to_rabbitmq(args, generator)
    args.progress.stage("start the event store and create its schema if missing")
    eventstore.bootstrap_event_store(settings)
    args.progress.stage(f"generate {args.events:,} events into the event store")
    with eventstore.connect(settings) as conn:
        inserted = eventstore.insert_events(conn, generator, settings)
    args.progress.set_rows(inserted)
    args.progress.finish()
    report = generator.report.as_dict() | {"inserted": inserted, "destination": eventstore.describe(settings)}
    print(json.dumps(report, indent=2))
    return 0


def _to_rabbitmq(args: argparse.Namespace, generator: EventGenerator) -> int:
    """Publish the generated events to RabbitMQ with batched publisher confirms."""
    import pika

    from cardflow.sources.mq.connection import connection_parameters, describe_url
    from cardflow.sources.mq.outgoing import outgoing_for_event
    from cardflow.sources.mq.publisher import ConfirmingPublisher
    from cardflow.sources.mq.topology import Topology, declare_topology

    settings = get_settings()
    topology = Topology.from_settings(settings, args.queue)
    connection = pika.BlockingConnection(connection_parameters(settings.rabbitmq_url))
    try:
        declare_topology(connection.channel(), topology)
    finally:
        connection.close()
    publisher = ConfirmingPublisher(settings.rabbitmq_url, topology.queue, window=args.confirm_window)
    report = publisher.publish(outgoing_for_event(e, body_format=args.format) for e in generator)
    summary = generator.report.as_dict() | report.as_dict() | {
        "destination": f"{describe_url(settings.rabbitmq_url)} queue {topology.queue}", "format": args.format,
    }
    print(json.dumps(summary, indent=2))
    return 0

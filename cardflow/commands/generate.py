"""``cardflow generate``: write generated events into the event store (or RabbitMQ)."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import datetime

from cardflow.contract import parse_timestamp
from cardflow.generator import EventGenerator, GeneratorConfig, current_hour
from cardflow.settings import get_settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate realistic events into the event store")
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
    p.add_argument("--to", choices=("postgres",), default="postgres", help="destination")
    p.set_defaults(func=run)


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
    from cardflow import eventstore

    settings = get_settings()
    generator = EventGenerator(config_from_args(args))
    with eventstore.connect(settings) as conn:
        inserted = eventstore.insert_events(conn, generator, settings)
    report = generator.report.as_dict() | {"inserted": inserted, "destination": eventstore.describe(settings)}
    print(json.dumps(report, indent=2))
    return 0

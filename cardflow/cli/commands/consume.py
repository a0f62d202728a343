"""``cardflow consume``: the RabbitMQ -> Bronze bridge (batches, acks after durable write, DLQ)."""

from __future__ import annotations

import argparse
import json
import logging

from cardflow.settings import get_settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "consume", help="consume RabbitMQ into Bronze in micro-batches (ack after durable write)"
    )
    p.add_argument("--queue", default=None, help="queue name (default RABBITMQ_QUEUE)")
    p.add_argument(
        "--prefetch", type=int, default=None, help="unacked messages in flight (RABBITMQ_PREFETCH)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="messages per batch (RABBITMQ_BATCH_SIZE)")
    p.add_argument(
        "--batch-seconds", type=float, default=None, help="max wait of a batch (RABBITMQ_BATCH_SECONDS)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="landing worker processes (RABBITMQ_LANDING_WORKERS, default 1); 0 = threads of this process",
    )
    p.add_argument("--max-messages", type=int, default=None, help="exit after settling this many messages")
    p.add_argument("--idle-exit", type=float, default=None, help="exit after this many idle seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardflow.sources.mq.consumer import BatchConsumer, ConsumerConfig

    settings = get_settings()
    try:
        config = ConsumerConfig.from_settings(
            settings,
            queue=args.queue,
            prefetch=args.prefetch,
            batch_size=args.batch_size,
            batch_seconds=args.batch_seconds,
            workers=args.workers,
        )
    except ValueError as exc:
        print(f"cardflow consume: {exc}. Lower --batch-size or raise --prefetch.")
        return 2
    from cardflow.backends.chooser import resolve_backends

    bronze = resolve_backends(settings, needs={"bronze"}).bronze
    consumer = BatchConsumer(config, bronze=bronze)
    consumer.install_signal_handlers()
    stats = consumer.run(max_messages=args.max_messages, idle_exit_seconds=args.idle_exit)
    print(json.dumps(stats.as_dict()))
    return 0

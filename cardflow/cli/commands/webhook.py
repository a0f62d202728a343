"""``cardflow webhook``: serve the MQ webhook receiver (deployments/webhook_app.py) with uvicorn."""

from __future__ import annotations

import argparse

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "webhook",
        help="serve the HTTP endpoint that lands Amazon MQ / RabbitMQ batches (POST /mq, GET /health)",
        description=(
            "Each POSTed batch is landed in Bronze before the 2xx answer; then the Prefect event "
            "cardflow.mq.batch.landed (batch id, manifest key, counts; no message bodies) is emitted, "
            "which triggers the mq_realtime_landing deployment to record the batch."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes sharing the port (the app is stateless: scale out freely)",
    )
    p.add_argument(
        "--no-events",
        action="store_true",
        help="land without emitting cardflow.mq.batch.landed (no Prefect API needed)",
    )
    # before batches were landed by the receiver itself, this flag bypassed one flow run per request;
    # it now means the same as --no-events (nothing but the event needs Prefect)
    p.add_argument("--no-flow-runs", dest="no_events", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from deployments.webhook_app import create_app

    if args.workers > 1:
        # each worker process builds its own app from the environment (an import string is needed)
        factory = "app_factory_without_events" if args.no_events else "app_factory"
        create_app(get_settings(), emit_events=False)  # a bad configuration fails here, once
        uvicorn.run(
            f"deployments.webhook_app:{factory}",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="info",
            access_log=False,
        )
        return 0
    app = create_app(get_settings(), emit_events=not args.no_events)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0

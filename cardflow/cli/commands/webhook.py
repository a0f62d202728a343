"""``cardflow webhook``: serve the MQ webhook receiver (deployments/webhook_app.py) with uvicorn."""

from __future__ import annotations

import argparse

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "webhook",
        help="serve the HTTP endpoint that lands Amazon MQ / RabbitMQ batches (POST /mq, GET /health)",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--no-flow-runs",
        action="store_true",
        help="land through the task function directly instead of one Prefect flow run per request",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from deployments.webhook_app import create_app

    app = create_app(get_settings(), run_as_flow=not args.no_flow_runs)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0

"""``cardflow limits``: create/update the Prefect global concurrency limit the warehouse stages share."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("limits", help="create or update the `warehouse` global concurrency limit")
    p.add_argument(
        "--warehouse-slots",
        type=int,
        default=1,
        help="runs that may use the warehouse at once (default 1: DuckDB allows one writer)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tasks.limits import WAREHOUSE_LIMIT, ensure_warehouse_limit

    outcome = ensure_warehouse_limit(args.warehouse_slots)
    print(f"{outcome} global concurrency limit {WAREHOUSE_LIMIT}={args.warehouse_slots}")
    return 0

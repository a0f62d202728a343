"""``cardflow backfill``: land the event store in Bronze (the ``events_backfill_to_s3`` flow)."""

from __future__ import annotations

import argparse
import json

from cardflow.contract import parse_timestamp
from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("backfill", help="backfill the Postgres event store into Bronze")
    p.add_argument("--start", type=parse_timestamp, default=None, help="only inserted_at >= START (ISO-8601)")
    p.add_argument("--end", type=parse_timestamp, default=None, help="only inserted_at < END (ISO-8601)")
    p.add_argument(
        "--full-refresh", action="store_true", help="re-read from the beginning (writes what is missing)"
    )
    p.add_argument("--chunk-size", type=int, default=None, help="rows per committed chunk")
    p.add_argument(
        "--slices", type=int, default=1, help="cut the range at whole hours into this many parallel units"
    )
    p.add_argument("--workers", type=int, default=2, help="units running at once (with --slices > 1)")
    p.add_argument(
        "--no-prefect",
        action="store_true",
        help="run the same steps without Prefect (no API needed; no artifact)",
    )
    p.set_defaults(func=run, prefect=True)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    args.progress.stage("backfill event store -> Bronze")
    if args.no_prefect:
        from cardflow.backends.chooser import resolve_backends
        from cardflow.sources.eventstore.backfill import run_backfill
        from cardflow.sources.eventstore.slices import run_sliced_backfill

        store = resolve_backends(settings, needs={"bronze"}).store()
        window = {"start": args.start, "end": args.end, "full_refresh": args.full_refresh}
        if args.slices > 1:
            outcome = run_sliced_backfill(
                settings, store, slices=args.slices, workers=args.workers, chunk_size=args.chunk_size, **window
            )
        else:
            outcome = run_backfill(settings, store, chunk_size=args.chunk_size, **window)
        result = outcome.as_dict()
    else:
        from flows.backfill import events_backfill_to_s3

        result = events_backfill_to_s3(
            start=args.start,
            end=args.end,
            full_refresh=args.full_refresh,
            chunk_size=args.chunk_size,
            slices=args.slices,
            workers=args.workers,
            settings=settings,
        )
    args.progress.finish()
    print(json.dumps(result, indent=2, default=str))
    return 0

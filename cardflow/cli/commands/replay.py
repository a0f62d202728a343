"""``cardflow replay``: reload a date range of Bronze into RAW and rebuild Silver/Gold."""

from __future__ import annotations

import argparse
import json
from datetime import date

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="reload Bronze partitions dt=START..END into RAW from the immutable files, then rebuild",
    )
    p.add_argument("--start", type=date.fromisoformat, required=True, help="first dt partition (YYYY-MM-DD)")
    p.add_argument("--end", type=date.fromisoformat, required=True, help="last dt partition, inclusive")
    p.add_argument("--no-rebuild", action="store_true", help="reload RAW only; do not run dbt afterwards")
    p.set_defaults(func=run, prefect=True)


def run(args: argparse.Namespace) -> int:
    from flows.replay import bronze_replay

    args.progress.stage("replay Bronze -> RAW" + ("" if args.no_rebuild else " -> Silver -> Gold"))
    result = bronze_replay(
        start=args.start, end=args.end, rebuild=not args.no_rebuild, settings=get_settings()
    )
    args.progress.finish()
    print(json.dumps(result, indent=2, default=str))
    return 0

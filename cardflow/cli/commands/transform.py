"""``cardflow transform``: RAW.EVENTS -> Silver -> Gold with dbt, gated by Great Expectations
(the ``dbt_transform_and_test`` flow: write-audit-publish, one layer at a time)."""

from __future__ import annotations

import argparse
import json

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "transform",
        help="build, gate and publish Silver and Gold from RAW.EVENTS (dbt + Great Expectations)",
    )
    p.add_argument("--full-refresh", action="store_true", help="rebuild the incremental models from all of RAW")
    p.add_argument("--reconcile", action="store_true", help="also compare RAW with the event store per day and type")
    p.set_defaults(func=run, prefect=True)


def run(args: argparse.Namespace) -> int:
    from flows.transform import dbt_transform_and_test

    args.progress.stage("transform RAW -> Silver -> Gold (gated)")
    result = dbt_transform_and_test(full_refresh=args.full_refresh, reconcile=args.reconcile, settings=get_settings())
    args.progress.finish()
    print(json.dumps(result.as_dict(), indent=2, default=str))
    return 0

"""``cardflow load``: new Bronze files into RAW.EVENTS (the ``s3_to_snowflake_load_raw`` flow)."""

from __future__ import annotations

import argparse
import json

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "load",
        help="load the Bronze files not loaded yet into RAW.EVENTS (exactly once per file)",
    )
    p.add_argument(
        "--manifest",
        action="append",
        dest="manifests",
        default=None,
        metavar="KEY",
        help="load only the files this Bronze manifest lists (repeatable; default: every manifest)",
    )
    p.set_defaults(func=run, prefect=True)


def run(args: argparse.Namespace) -> int:
    from flows.load import s3_to_snowflake_load_raw

    args.progress.stage("load Bronze -> RAW.EVENTS")
    result = s3_to_snowflake_load_raw(manifest_keys=args.manifests, settings=get_settings())
    args.progress.finish()
    print(json.dumps(result, indent=2, default=str))
    return 0

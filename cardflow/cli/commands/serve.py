"""``cardflow serve``: run every deployment of prefect.yaml from this one process (no worker)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help=(
            "serve all deployments (schedules and the real-time trigger) in one process, without a worker; "
            "refuses when the Prefect API already holds them as worker-pool deployments"
        ),
    )
    p.add_argument("--limit", type=int, default=None, help="most flow runs at once (default: no limit)")
    p.add_argument("--list", action="store_true", help="print the deployments and their schedules, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deployments.serve import build_deployments, describe_spec, read_specs, serve_all

    if args.list:
        build_deployments()  # imports every entrypoint: fails here, not at the first scheduled run
        for spec in read_specs():
            print(describe_spec(spec))
        return 0
    serve_all(limit=args.limit)  # refuses (DeploymentConflict) beside worker-pool deployments
    return 0

"""``cardflow serve``: run every deployment of prefect.yaml from this one process (no worker)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve all deployments (schedules and the real-time trigger) in one process, without a worker",
    )
    p.add_argument("--limit", type=int, default=None, help="most flow runs at once (default: no limit)")
    p.add_argument("--list", action="store_true", help="print the deployments and their schedules, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deployments.serve import build_deployments, read_specs, serve_all

    if args.list:
        build_deployments()  # imports every entrypoint: fails here, not at the first scheduled run
        for spec in read_specs():
            when = ", ".join(
                f"{s['cron']} {s.get('timezone', 'UTC')}{'' if s.get('active', True) else ' (inactive)'}"
                for s in spec.schedules
            )
            triggers = ", ".join(e for t in spec.triggers for e in t.get("expect", []))
            print(f"{spec.name}: {spec.entrypoint} | schedules: {when or '-'} | triggers: {triggers or '-'}")
        return 0
    serve_all(limit=args.limit)
    return 0

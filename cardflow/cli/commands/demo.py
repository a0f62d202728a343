"""``cardflow demo``: run the whole pipeline on embedded defaults and print a summary."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="generate events and run the whole pipeline on embedded defaults")
    p.add_argument("--events", type=int, default=200_000, help="events to generate (default 200000)")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=run, prefect=True)


def run(args: argparse.Namespace) -> int:
    from cardflow.cli.demo import run_demo

    run_demo(events=args.events, seed=args.seed, progress=args.progress, log_path=str(args.log_path))
    return 0

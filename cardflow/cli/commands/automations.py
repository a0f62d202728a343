"""``cardflow automations``: create/replace the Prefect alert automations on the server in use."""

from __future__ import annotations

import argparse

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "automations",
        help="apply deployments/automations/*.yaml (Slack alerts run by the Prefect server) to the server in use",
    )
    p.add_argument(
        "--report-window",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long a flow's own hook has to report a failed or crashed run before the backstop "
        "alerts (default: 180, from the YAML)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deployments.automations import apply_automations

    for name in apply_automations(get_settings(), report_window=args.report_window):
        print(f"applied automation {name}")
    return 0

"""``cardflow report``: render the Gold layer as one self-contained HTML file and print its path."""

from __future__ import annotations

import argparse
from pathlib import Path

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="write an HTML report of the Gold layer (charts, freshness, quality-gate status)"
    )
    p.add_argument(
        "--output", type=Path, default=None,
        help="where to write the HTML file (default: $CARDFLOW_DATA_DIR/report/index.html)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.reporting.report import write_report

    backends = resolve_backends(get_settings(), needs={"warehouse"})
    path = write_report(backends.settings, backends.target, args.output)
    print(path)
    return 0

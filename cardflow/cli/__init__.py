"""The ``cardflow`` command line: discovers sub-commands in :mod:`cardflow.cli.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

import cardflow.cli.commands
from cardflow import __version__
from cardflow.errors import CardflowError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardflow", description="Sports-card medallion data platform on Prefect.")
    parser.add_argument("--version", action="version", version=f"cardflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(cardflow.cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cardflow.cli.commands.{module_info.name}")
        module.register(subparsers)
    return parser


#: Prefect's ephemeral API (used when PREFECT_API_URL is unset) gets 20 s to start by default, which a
#: busy 2-core laptop can exceed; the CLI allows longer unless the user chose a value.
EPHEMERAL_STARTUP_TIMEOUT_SECONDS = "180"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_SECONDS)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CardflowError as exc:
        print(f"cardflow {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

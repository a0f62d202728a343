"""The ``cardflow`` command line: discovers sub-commands in :mod:`cardflow.cli.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from pathlib import Path

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


#: commands that serve until stopped: their log records are what the user watches, so the console
#: shows them live (INFO) as well as writing the log file
LIVE_LOG_COMMANDS = frozenset({"serve", "webhook", "consume"})


def main(argv: list[str] | None = None) -> int:
    """Parse, run one command, and end with one line: its output, or what failed and what to do.

    Never prints a traceback unless ``--verbose`` is given (the log file always has it).
    """
    from cardflow.cli import runtime

    try:
        return _main(argv)
    finally:
        runtime.unconfigure_logging()


def _main(argv: list[str] | None) -> int:
    from cardflow.cli import runtime

    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_SECONDS)
    runtime.set_prefect_env_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = args.command
    try:
        log_path = runtime.log_file_path(_data_dir(), command)
    except OSError as exc:
        print(f"cardflow {command}: cannot create the log directory: {exc}. Check CARDFLOW_DATA_DIR.", file=sys.stderr)
        return 1
    args.log_path = log_path
    console = "verbose" if args.verbose else "live" if command in LIVE_LOG_COMMANDS else "quiet"
    runtime.configure_logging(log_path, console=console)
    logger = logging.getLogger("cardflow.cli")
    logger.info(
        "cardflow %s %s (log file %s)", __version__, " ".join(argv if argv is not None else sys.argv[1:]), log_path
    )
    hint = "run again with --verbose for the traceback" if not args.verbose else "the traceback is above"
    uses_prefect = getattr(args, "prefect", False) and not getattr(args, "no_prefect", False)
    with runtime.command_session():
        try:
            code = _run_command(args, uses_prefect, log_path)
            if runtime.interrupt_requested():  # a Ctrl-C a library swallowed: the run did not finish as asked
                raise KeyboardInterrupt
            return code
        except KeyboardInterrupt:
            return _report_interrupt(command, logger, log_path)
        except Exception as exc:
            if runtime.interrupt_requested():
                # after a Ctrl-C, a library's follow-on error (Prefect: "Task run is not set") is the interrupt
                logger.info("error after Ctrl-C: %s", exc, exc_info=True)
                return _report_interrupt(command, logger, log_path)
            return _report_failure(command, exc, logger, hint, log_path)


def _run_command(args: argparse.Namespace, uses_prefect: bool, log_path: Path) -> int:
    """Run the command; one with stages gets the live stage display (and Prefect's temporary API
    when it runs flows and no server is configured)."""
    from cardflow.cli import runtime

    if not (getattr(args, "prefect", False) or getattr(args, "stages", False)):
        return int(args.func(args) or 0)
    from rich.console import Console

    from cardflow.cli.progress import StageProgress

    # stage lines and progress on stderr: stdout stays the command's result (JSON for scripts)
    with StageProgress(Console(stderr=True, highlight=False)) as progress:
        args.progress = progress
        if uses_prefect and not runtime.prefect_api_configured():
            progress.stage("start Prefect's temporary API")
            runtime.start_temporary_prefect_server(log_path)
            progress.finish()
        return int(args.func(args) or 0)


def _report_interrupt(command: str, logger: logging.Logger, log_path: Path) -> int:
    from cardflow.cli import runtime

    runtime.acknowledge_interrupt()
    logger.info("interrupted")
    print(
        f"cardflow {command}: interrupted; every process it started is being stopped (log: {log_path})",
        file=sys.stderr,
    )
    return 130


def _report_failure(command: str, exc: Exception, logger: logging.Logger, hint: str, log_path: Path) -> int:
    """One line on the console (the traceback goes to the log file)."""
    if isinstance(exc, CardflowError):
        logger.error("cardflow %s failed", command, exc_info=True)
        print(f"cardflow {command}: {_one_line(exc)} (log: {log_path})", file=sys.stderr)
        return 1
    # a bug or an unexpected library error: still one line, traceback in the log
    logger.error("cardflow %s failed unexpectedly", command, exc_info=True)
    print(
        f"cardflow {command}: failed with {type(exc).__name__}: {_one_line(exc)}; {hint} (log: {log_path})",
        file=sys.stderr,
    )
    return 1


def _data_dir() -> Path:
    """Where the log directory goes: the configured data dir, or .cardflow when settings are invalid
    (the command then fails with the settings error, and that error is logged too)."""
    from cardflow.settings import get_settings

    try:
        return get_settings().data_dir
    except Exception:
        return Path(".cardflow")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 600 else text[:597] + "..."


if __name__ == "__main__":
    sys.exit(main())

"""What every ``cardflow`` command runs inside: a log file, a quiet console, and a clean exit.

* **Logs**: every record (cardflow, Prefect, dbt, GX, httpx, pgserver) goes to
  ``<CARDFLOW_DATA_DIR>/logs/cardflow-<command>-<UTC time>.log``. The console shows only what the
  command prints (stage lines, progress, summary) and cardflow's own warnings; ``--verbose`` adds
  every log record live, as before.
* **Prefect's temporary server**: when no PREFECT_API_URL is configured, Prefect starts a local API
  in a subprocess on first use; that process writes its own log lines (and, on a busy machine,
  a telemetry ``database is locked`` traceback) straight to the terminal. The commands that run
  flows start it here instead, with its output sent to the log file, and stop it on the way out.
* **Clean exit**: on success, on failure, on Ctrl-C and on SIGTERM, the temporary Prefect server
  and any embedded PostgreSQL this process started are stopped before the command returns.
* **Ctrl-C that sticks**: a KeyboardInterrupt that lands inside Prefect's engine can be turned into a
  crashed task followed by an unrelated error, or vanish (seen about one run in three when it lands
  while a flow run resolves its task inputs). The SIGINT handler therefore also records the request;
  the next stage line of the run raises KeyboardInterrupt again (:func:`raise_if_interrupted`), and a
  command that ends in any way after a Ctrl-C reports "interrupted".
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

#: what the file records: cardflow at INFO (DEBUG with --verbose), other libraries at their own levels
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: third-party loggers that log every request or node at INFO; WARNING and above still reach the file
NOISY_LOGGERS = ("httpx", "httpcore", "pgserver", "great_expectations", "botocore", "urllib3", "asyncio")

#: the Prefect environment the CLI sets unless the user chose otherwise (before Prefect is imported):
#: a cardflow log line outside any run is not an API warning (tasks.run_logs captures the
#: ``cardflow`` logger in flow-run logs)
PREFECT_ENV_DEFAULTS = {"PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore"}


def set_prefect_env_defaults() -> None:
    """Apply :data:`PREFECT_ENV_DEFAULTS` where the environment does not set them already."""
    for name, value in PREFECT_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)


def log_file_path(data_dir: Path, command: str) -> Path:
    """``<data_dir>/logs/cardflow-<command>-<UTC yyyymmddThhmmss>.log`` (the directory is created)."""
    logs = data_dir.expanduser().resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"cardflow-{command}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"


class _CardflowWarnings(logging.Filter):
    """Console filter: cardflow's own warnings and errors, one line each (no traceback). The CLI's
    own failure record is left out: the command prints that one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            record.name.startswith("cardflow") and record.name != "cardflow.cli" and record.levelno >= logging.WARNING
        )


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


#: ``quiet``: stage lines and summary only (cardflow warnings as one line each); ``live``: every
#: INFO record as well (long-running services); ``verbose``: DEBUG, tracebacks and all
ConsoleMode = Literal["quiet", "live", "verbose"]


def configure_logging(
    log_path: Path, *, console: ConsoleMode = "quiet", stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to ``log_path``; the console gets what ``console`` says.

    Prefect is imported here so its own logging set-up (which runs on import) has happened; its
    console handlers are then removed (unless verbose) and the loggers it configured without
    propagation are pointed at the file too.

    Returns:
        The file handler.
    """
    verbose = console == "verbose"
    unconfigure_logging()  # a second command in the same process (tests) starts from scratch
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(file_handler)
    console_handler = logging.StreamHandler(stream or sys.stderr)
    if console == "quiet":
        console_handler.addFilter(_CardflowWarnings())
        console_handler.setFormatter(_OneLine())
    else:
        console_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(console_handler)
    logging.captureWarnings(True)  # library warnings (e.g. platformdirs' via pgserver) go to the file
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)

    import prefect  # noqa: F401  (runs Prefect's logging set-up now, so it is adjusted below)
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    for logger in [root, *loggers]:
        if not isinstance(logger, logging.Logger):
            continue
        for handler in list(logger.handlers):
            is_console = isinstance(handler, PrefectConsoleHandler) or (type(handler).__name__ == "_SafeStreamHandler")
            if is_console and not verbose:
                logger.removeHandler(handler)
        if logger is not root and not logger.propagate and file_handler not in logger.handlers:
            logger.addHandler(file_handler)
    _installed.extend([file_handler, console_handler])
    return file_handler


_installed: list[logging.Handler] = []


def unconfigure_logging() -> None:
    """Remove (and close) the handlers :func:`configure_logging` installed; does nothing if none."""
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    for handler in _installed:
        for logger in loggers:
            if isinstance(logger, logging.Logger) and handler in logger.handlers:
                logger.removeHandler(handler)
        handler.close()
    _installed.clear()


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``path`` for the block (a subprocess started inside
    inherits them); this process's own descriptors are restored afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def prefect_api_configured() -> bool:
    """True when PREFECT_API_URL points at a server (then no temporary one is started)."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def start_temporary_prefect_server(log_path: Path) -> Any | None:
    """Start Prefect's temporary API (the one its client would start on first use) with its output
    in ``log_path``. Does nothing (returns None) when PREFECT_API_URL points at a server."""
    from prefect.server.api.server import SubprocessASGIServer

    if prefect_api_configured():
        return None
    server = SubprocessASGIServer()  # the instance Prefect's own client looks up
    if not server.running:
        with _output_to(log_path):
            server.start()
    return server


def _running_prefect_servers() -> list[Any]:
    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return []
    return [s for s in server_module.SubprocessASGIServer._instances.values() if s.running]


def stop_children(keep: list[Any] | None = None) -> None:
    """Stop what this command started: the temporary Prefect server and any embedded PostgreSQL.

    Args:
        keep: Prefect servers that were running before the command (a test harness's) and stay.

    Does nothing for what was not started (both look-ups import nothing new when unused).
    """
    started = [s for s in _running_prefect_servers() if not any(s is k for k in keep or [])]
    if started:
        _drain_prefect_workers()
        for server in started:
            server.stop()
    store_module = sys.modules.get("cardflow.sources.eventstore.store")
    if store_module is not None:
        store_module.stop_embedded()


def _drain_prefect_workers() -> None:
    """Send the run logs and events still queued to the API before it stops (else they are lost
    and Prefect reports connection errors at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for drain in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
        try:
            drain()
        except Exception as exc:  # a worker that never started, or an API already gone
            logging.getLogger(__name__).debug("draining Prefect workers: %s", exc)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


#: set by Ctrl-C (SIGINT) during a command; cleared when the command has reported it
_interrupt_requested = threading.Event()
#: set once the command's own handler has seen the KeyboardInterrupt (no further re-raise then)
_interrupt_reported = threading.Event()


def _interrupt(signum: int, frame: Any) -> None:
    _interrupt_requested.set()
    if _interrupt_reported.is_set():  # the command already unwinds for Ctrl-C: let its clean-up finish
        return
    raise KeyboardInterrupt


def interrupt_requested() -> bool:
    """True when Ctrl-C was pressed during the current command (even if the exception was lost)."""
    return _interrupt_requested.is_set()


def acknowledge_interrupt() -> None:
    """The command is handling the Ctrl-C: stop re-raising it (clean-up code must run undisturbed)."""
    _interrupt_reported.set()


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt again on the main thread if a Ctrl-C was requested and lost.

    Called at every stage line: a run whose Ctrl-C was swallowed inside a library stops at its
    next stage instead of running to the end.
    """
    if (
        _interrupt_requested.is_set()
        and not _interrupt_reported.is_set()
        and threading.current_thread() is threading.main_thread()
    ):
        raise KeyboardInterrupt


@contextmanager
def command_session() -> Iterator[None]:
    """Run a command so that SIGTERM unwinds like Ctrl-C, Ctrl-C is never lost, and children are
    stopped in every case."""
    _interrupt_requested.clear()
    _interrupt_reported.clear()
    previous = signal.signal(signal.SIGTERM, _terminate)
    previous_int = signal.signal(signal.SIGINT, _interrupt)
    running_before = _running_prefect_servers()
    try:
        yield
    finally:
        try:
            stop_children(keep=running_before)
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)

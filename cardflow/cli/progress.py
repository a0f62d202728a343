"""One console line per stage, with a live progress display while it runs (rows, rows/s, elapsed).

The stages are announced and counted through log records, so the library and the flows need no
console of their own: a record with ``extra={STAGE: name}`` starts stage ``name`` (ending the one
before), ``extra={ROWS: n}`` says the current stage has done ``n`` rows so far, and
``extra={ROWS_ADDED: n}`` adds ``n``. The CLI attaches :class:`StageProgress` to the root logger for
the length of a command; without it (flows in a worker, tests) the extras are plain log fields.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cardflow.cli.runtime import raise_if_interrupted

#: log-record attribute: a stage of the current command starts (its name)
STAGE = "cardflow_stage"
#: log-record attribute: rows the current stage has done so far
ROWS = "cardflow_rows"
#: log-record attribute: rows the current stage has just done (added to its count)
ROWS_ADDED = "cardflow_rows_added"


class StageProgress(logging.Handler):
    """Live progress of the current stage; a finished stage leaves one line: name, rows, time, rate."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.steps: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self._lock = threading.RLock()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}[/bold]"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: object | None = None
        self._name: str | None = None
        self._started = 0.0

    # --- the context: attached to the root logger while a command runs -------------------------
    def __enter__(self) -> StageProgress:
        self._progress.start()
        logging.getLogger().addHandler(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        logging.getLogger().removeHandler(self)
        self.finish(ok=exc_type is None)
        self._progress.stop()

    # --- stages ---------------------------------------------------------------------------------
    def stage(self, name: str) -> None:
        """End the current stage (successfully) and start ``name``."""
        with self._lock:
            self.finish()
            self._name, self._started = name, time.perf_counter()
            self.rows[name] = 0
            self._task = self._progress.add_task(name, detail="", total=None)

    def set_rows(self, rows: int) -> None:
        with self._lock:
            if self._name is None:
                return
            self.rows[self._name] = rows
            elapsed = max(time.perf_counter() - self._started, 1e-6)
            self._progress.update(self._task, detail=f"{rows:,} rows  {rows / elapsed:,.0f} rows/s")  # type: ignore[arg-type]

    def add_rows(self, rows: int) -> None:
        with self._lock:
            if self._name is not None:
                self.set_rows(self.rows[self._name] + rows)

    def finish(self, *, ok: bool = True, note: str = "") -> None:
        """Print the current stage's line (✓ or ✗) and clear its live display; no-op when none runs."""
        with self._lock:
            if self._name is None:
                return
            name, elapsed = self._name, time.perf_counter() - self._started
            self._progress.remove_task(self._task)  # type: ignore[arg-type]
            self._name, self._task = None, None
            self.steps[name] = elapsed
            rows = self.rows.get(name, 0)
            parts = [f"{elapsed:.1f} s"]
            if rows:
                parts[:0] = [f"{rows:,} rows", f"{rows / max(elapsed, 1e-6):,.0f} rows/s"]
            if note:
                parts.append(note)
            mark = "[green]✓[/green]" if ok else "[red]✗ failed:[/red]"
            self.console.print(f"{mark} {name} [dim]({', '.join(parts)})[/dim]")

    # --- logging.Handler ------------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, STAGE, None):
            raise_if_interrupted()  # a Ctrl-C a library swallowed stops the run at its next stage
        try:
            name = getattr(record, STAGE, None)
            if name:
                self.stage(str(name))
            rows = getattr(record, ROWS, None)
            if rows is not None:
                self.set_rows(int(rows))
            added = getattr(record, ROWS_ADDED, None)
            if added is not None:
                self.add_rows(int(added))
        except Exception:  # a display problem must never fail the run
            self.handleError(record)

"""The benchmark harness: generate data once, run named cases in fresh processes, print a table.

A benchmark module is ``benchmarks/bench_<name>.py`` and defines ``cases(ctx) -> list[Case]``.
Each case runs in its own spawned process so its peak RSS is its own (``ru_maxrss`` of the child),
and cases of one benchmark run back to back on the same data, so their ratios are fair.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardflow.settings import Settings, load_settings


@dataclass(frozen=True)
class BenchContext:
    """What every case gets: the data size, a work directory and the event-store settings."""

    events: int
    seed: int
    workdir: Path
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pg_database(self) -> str:
        return f"cardflow_bench_{self.events}_{self.seed}"

    def settings(self, **overrides: Any) -> Settings:
        """Settings on the shared benchmark event store with a per-case data directory."""
        base: dict[str, Any] = {
            "data_dir": self.workdir / "data",
            "postgres_host": self.pg_host,
            "postgres_port": self.pg_port,
            "postgres_user": self.pg_user,
            "postgres_db": self.pg_database,
        }
        return load_settings(**(base | overrides))


@dataclass(frozen=True)
class Case:
    """One measured run. ``fn(ctx)`` returns the number of events it processed (or a dict with
    ``events`` and any extra columns such as ``note``)."""

    benchmark: str
    name: str
    fn: Callable[[BenchContext], Any]


@dataclass
class Measurement:
    benchmark: str
    name: str
    events: int
    seconds: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _child(fn: Callable[[BenchContext], Any], ctx: BenchContext, queue: mp.Queue) -> None:
    start = time.perf_counter()
    try:
        result = fn(ctx)
        error = None
    except Exception as exc:  # reported in the table, the run goes on
        result, error = 0, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((result, seconds, peak_kb / 1024, error))


def measure(case: Case, ctx: BenchContext) -> Measurement:
    """Run one case in a fresh spawned process and collect wall time and peak RSS."""
    spawn = mp.get_context("spawn")
    queue: mp.Queue = spawn.Queue()
    proc = spawn.Process(target=_child, args=(case.fn, ctx, queue))
    proc.start()
    result, seconds, peak_mb, error = queue.get()
    proc.join()
    extra: dict[str, Any] = {}
    if isinstance(result, dict):
        extra = {k: v for k, v in result.items() if k != "events"}
        events = int(result.get("events", 0))
    else:
        events = int(result or 0)
    if error:
        extra["error"] = error
    return Measurement(case.benchmark, case.name, events, seconds, peak_mb, extra)


def format_table(rows: list[Measurement]) -> str:
    """A plain-text table, one row per case, grouped by benchmark."""
    header = f"{'benchmark':<12} {'case':<44} {'events':>11} {'seconds':>9} {'events/s':>11} {'peak RSS MB':>12}  note"
    lines = [header, "-" * len(header)]
    for m in rows:
        note = "; ".join(f"{k}={v}" for k, v in m.extra.items())
        lines.append(
            f"{m.benchmark:<12} {m.name:<44} {m.events:>11,} {m.seconds:>9.2f} {m.events_per_second:>11,.0f} "
            f"{m.peak_rss_mb:>12.0f}  {note}"
        )
    return "\n".join(lines)

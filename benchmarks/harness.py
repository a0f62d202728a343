"""The benchmark harness: generate data once, run named cases in fresh processes, print a table.

A benchmark module is ``benchmarks/bench_<name>.py`` and defines ``cases(ctx) -> list[Case]``.
Each case runs in its own spawned process so its peak RSS is its own (``ru_maxrss`` of the child),
and cases of one benchmark run back to back on the same data, so their ratios are fair.
"""

from __future__ import annotations

import json
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
    days: int = 30
    """days the generated events spread over (the 5x memory row keeps the density: 5x the days)"""
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pg_database(self) -> str:
        suffix = "" if self.days == 30 else f"_{self.days}d"
        return f"cardflow_bench_{self.events}_{self.seed}{suffix}"

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

    # --- figures one case hands to a later one (baselines beside each row) ---------------------
    def _results(self) -> Path:
        return self.workdir / "bench_results.json"

    def record(self, name: str, value: Any) -> None:
        """Keep a figure of this run (e.g. the raw COPY rate) for the cases that follow."""
        path = self._results()
        data = json.loads(path.read_text()) if path.exists() else {}
        data[name] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    def recorded(self, name: str) -> Any:
        """A figure recorded earlier in this run, or None."""
        path = self._results()
        return json.loads(path.read_text()).get(name) if path.exists() else None

    def pct_of(self, rate: float, name: str) -> int | None:
        """``rate`` as a percentage of the recorded rate ``name`` (None when it was not measured)."""
        base = self.recorded(name)
        return round(100 * rate / base) if base else None


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


def peak_rss_mb() -> float:
    """This process's own peak resident set so far, in MB.

    Linux's ``VmHWM`` belongs to the process image: a spawned child starts from zero. (``ru_maxrss``
    is carried across ``execve``, so a child spawned by a big parent would report the parent's peak.)
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn: Callable[[BenchContext], Any], ctx: BenchContext, queue: mp.Queue, label: str) -> None:
    from benchmarks.sampler import Sampler

    profile_dir = ctx.extra.get("profile_dir")
    profiler = Sampler() if profile_dir else None
    start = time.perf_counter()
    try:
        if profiler is not None:
            profiler.start()
        result = fn(ctx)
        error = None
    except Exception as exc:  # reported in the table, the run goes on
        result, error = 0, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.stop(Path(profile_dir) / f"{label}.txt")
    queue.put((result, seconds, peak_rss_mb(), error))


def measure(case: Case, ctx: BenchContext) -> Measurement:
    """Run one case in a fresh spawned process and collect wall time and peak RSS."""
    spawn = mp.get_context("spawn")
    queue: mp.Queue = spawn.Queue()
    label = "".join(c if c.isalnum() else "_" for c in f"{case.benchmark}_{case.name}")[:80]
    proc = spawn.Process(target=_child, args=(case.fn, ctx, queue, label))
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
